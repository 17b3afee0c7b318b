-- name: resolved_by_assignee
-- title: Resolved tickets per assignee
-- category: team
-- description: Resolved and closed tickets per assignee: mean resolution time in hours (closure minus creation), SLA compliance in percent and tickets reopened.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_status text, tkt_assigned_to text, tkt_created_time timestamp, tkt_closure_date timestamp, tkt_sla_met flag, tkt_reopened flag)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
)
SELECT coalesce(tkt_assigned_to, '(unassigned)') AS assignee,
       count(*) AS resolved,
       ROUND(avg(extract(epoch FROM tkt_closure_date) - extract(epoch FROM tkt_created_time))
             / 3600, 2)
           AS avg_resolution_hours,
       ROUND(100.0 * count(*) FILTER (WHERE tkt_sla_met) / NULLIF(count(tkt_sla_met), 0), 2)
           AS sla_compliance_pct,
       count(*) FILTER (WHERE tkt_reopened) AS reopened
FROM t
WHERE tkt_status IN ('Resolved', 'Closed')
GROUP BY tkt_assigned_to
ORDER BY resolved DESC, tkt_assigned_to COLLATE "C" NULLS LAST;
