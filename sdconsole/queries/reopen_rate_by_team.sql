-- name: reopen_rate_by_team
-- title: Reopen rate by team
-- category: operations
-- description: Per team, resolved or closed tickets, how many of them were reopened, and the reopen rate in percent.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_status text, tkt_team text, tkt_reopened flag)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
)
SELECT coalesce(tkt_team, '(none)') AS team,
       count(*) AS closed,
       count(*) FILTER (WHERE tkt_reopened) AS reopened,
       ROUND(100.0 * count(*) FILTER (WHERE tkt_reopened) / NULLIF(count(tkt_reopened), 0), 2)
           AS reopen_rate_pct
FROM t
WHERE tkt_status IN ('Resolved', 'Closed')
GROUP BY tkt_team
ORDER BY tkt_team COLLATE "C" NULLS LAST;
