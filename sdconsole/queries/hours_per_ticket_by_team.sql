-- name: hours_per_ticket_by_team
-- title: Hours logged per ticket by team
-- category: team
-- description: Timesheet hours logged against each team's tickets: tickets with time logged, total hours and mean hours per ticket.
-- needs: tickets(tkt_ticket_id number, tkt_modified_time timestamp, tkt_title text, tkt_team text)
-- needs: timesheets(ts_crm_id number, ts_hours number)
WITH teams AS (
    SELECT DISTINCT ON (tkt_ticket_id) tkt_ticket_id, tkt_team
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
)
SELECT coalesce(t.tkt_team, '(none)') AS team,
       count(DISTINCT s.ts_crm_id) AS tickets,
       sum(s.ts_hours) AS hours,
       ROUND(sum(s.ts_hours)::numeric / count(DISTINCT s.ts_crm_id), 2) AS avg_hours_per_ticket
FROM timesheets s
JOIN teams t ON t.tkt_ticket_id = s.ts_crm_id
GROUP BY t.tkt_team
ORDER BY hours DESC NULLS LAST, t.tkt_team COLLATE "C" NULLS LAST;
