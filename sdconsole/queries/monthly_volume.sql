-- name: monthly_volume
-- title: Tickets opened and closed per month
-- category: executive
-- description: Tickets created and tickets closed in each calendar month (a ticket id exported twice counts once).
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_created_time timestamp, tkt_closure_date timestamp)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
),
opened AS (
    SELECT date_trunc('month', tkt_created_time)::date AS month, count(*) AS opened
    FROM t
    WHERE tkt_created_time IS NOT NULL
    GROUP BY 1
),
closed AS (
    SELECT date_trunc('month', tkt_closure_date)::date AS month, count(*) AS closed
    FROM t
    WHERE tkt_closure_date IS NOT NULL
    GROUP BY 1
)
SELECT month, coalesce(opened, 0) AS opened, coalesce(closed, 0) AS closed
FROM opened FULL JOIN closed USING (month)
ORDER BY month;
