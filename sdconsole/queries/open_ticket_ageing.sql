-- name: open_ticket_ageing
-- title: Ageing of open tickets
-- category: operations
-- description: Open, in-progress and on-hold tickets by age (from creation to the export's latest modification time), with the count per severity.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_status text, tkt_severity text, tkt_created_time timestamp)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
),
as_of AS (
    SELECT max(tkt_modified_time) AS at FROM tickets
),
buckets (rank, age, lower_bound, upper_bound) AS (
    VALUES (1, 'under 7 days', interval '0 days', interval '7 days'),
           (2, '7 to 30 days', interval '7 days', interval '30 days'),
           (3, '30 to 90 days', interval '30 days', interval '90 days'),
           (4, 'over 90 days', interval '90 days', NULL)
),
open_tickets AS (
    SELECT t.tkt_severity,
           (extract(epoch FROM as_of.at) - extract(epoch FROM t.tkt_created_time))
               * interval '1 second' AS age
    FROM t CROSS JOIN as_of
    WHERE t.tkt_status IN ('Open', 'In Progress', 'On Hold') AND t.tkt_created_time IS NOT NULL
)
SELECT b.age,
       count(o.age) AS tickets,
       count(o.age) FILTER (WHERE o.tkt_severity = 'Critical') AS critical,
       count(o.age) FILTER (WHERE o.tkt_severity = 'High') AS high,
       count(o.age) FILTER (WHERE o.tkt_severity = 'Medium') AS medium,
       count(o.age) FILTER (WHERE o.tkt_severity = 'Low') AS low
FROM buckets b
LEFT JOIN open_tickets o
       ON o.age >= b.lower_bound AND (b.upper_bound IS NULL OR o.age < b.upper_bound)
GROUP BY b.rank, b.age
ORDER BY b.rank;
