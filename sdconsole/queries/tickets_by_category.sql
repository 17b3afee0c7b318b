-- name: tickets_by_category
-- title: Tickets by category
-- category: executive
-- description: Tickets per category, how many are still open or resolved/closed, and each category's share of all tickets in percent.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_category text, tkt_status text)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
)
SELECT coalesce(tkt_category, '(none)') AS category,
       count(*) AS tickets,
       count(*) FILTER (WHERE tkt_status IN ('Open', 'In Progress', 'On Hold')) AS open,
       count(*) FILTER (WHERE tkt_status IN ('Resolved', 'Closed')) AS closed,
       ROUND(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM t
GROUP BY tkt_category
ORDER BY tickets DESC, tkt_category COLLATE "C" NULLS LAST;
