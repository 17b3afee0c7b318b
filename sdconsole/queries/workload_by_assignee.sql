-- name: workload_by_assignee
-- title: Open workload per assignee
-- category: team
-- description: Open, in-progress and on-hold tickets per assignee, how many are critical or high, and when the oldest was created.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_status text, tkt_severity text, tkt_assigned_to text, tkt_created_time timestamp)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
)
SELECT coalesce(tkt_assigned_to, '(unassigned)') AS assignee,
       count(*) AS open_total,
       count(*) FILTER (WHERE tkt_status = 'Open') AS open,
       count(*) FILTER (WHERE tkt_status = 'In Progress') AS in_progress,
       count(*) FILTER (WHERE tkt_status = 'On Hold') AS on_hold,
       count(*) FILTER (WHERE tkt_severity IN ('Critical', 'High')) AS critical_or_high,
       min(tkt_created_time) AS oldest_created
FROM t
WHERE tkt_status IN ('Open', 'In Progress', 'On Hold')
GROUP BY tkt_assigned_to
ORDER BY open_total DESC, tkt_assigned_to COLLATE "C" NULLS LAST;
