-- name: stale_open_tickets
-- title: Stale open tickets
-- category: operations
-- description: The 25 open tickets longest without an update (at least 14 days before the export's latest modification time), oldest first.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_status text, tkt_severity any, tkt_team any, tkt_assigned_to any)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
),
as_of AS (
    SELECT max(tkt_modified_time) AS at FROM tickets
)
SELECT t.tkt_ticket_id AS ticket_id,
       t.tkt_title AS title,
       t.tkt_status AS status,
       t.tkt_severity AS severity,
       t.tkt_team AS team,
       t.tkt_assigned_to AS assigned_to,
       t.tkt_modified_time AS last_update,
       ROUND((extract(epoch FROM as_of.at) - extract(epoch FROM t.tkt_modified_time)) / 86400, 1)
           AS days_idle
FROM t CROSS JOIN as_of
WHERE t.tkt_status IN ('Open', 'In Progress', 'On Hold')
  AND t.tkt_modified_time <= as_of.at - interval '14 days'
ORDER BY t.tkt_modified_time, t.tkt_ticket_id
LIMIT 25;
