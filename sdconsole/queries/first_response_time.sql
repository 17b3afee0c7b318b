-- name: first_response_time
-- title: First response time by severity
-- category: operations
-- description: Hours from a ticket's creation to its first agent comment, per severity: tickets answered and not, mean, median and share answered within 24 hours.
-- needs: tickets(tkt_ticket_id number, tkt_modified_time timestamp, tkt_title text, tkt_severity text, tkt_created_time timestamp)
-- needs: comments(ct_tkt_id number, ct_ownertype text, ct_created_time timestamp)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
),
first_agent AS (
    SELECT ct_tkt_id, min(ct_created_time) AS first_at
    FROM comments
    WHERE ct_ownertype = 'Agent' AND ct_created_time IS NOT NULL
    GROUP BY ct_tkt_id
),
responses AS (
    SELECT t.tkt_severity,
           extract(epoch FROM f.first_at) - extract(epoch FROM t.tkt_created_time) AS seconds
    FROM t
    LEFT JOIN first_agent f ON f.ct_tkt_id = t.tkt_ticket_id
    WHERE t.tkt_created_time IS NOT NULL
)
SELECT coalesce(tkt_severity, '(none)') AS severity,
       count(seconds) AS answered,
       count(*) - count(seconds) AS unanswered,
       ROUND(avg(seconds) / 3600, 2) AS avg_hours,
       ROUND(percentile_disc(0.5) WITHIN GROUP (ORDER BY seconds) / 3600, 2) AS median_hours,
       ROUND(100.0 * count(*) FILTER (WHERE seconds <= 86400) / NULLIF(count(seconds), 0), 2)
           AS within_24h_pct
FROM responses
GROUP BY tkt_severity
ORDER BY array_position(ARRAY['Critical', 'High', 'Medium', 'Low'], tkt_severity) NULLS LAST,
         tkt_severity COLLATE "C";
