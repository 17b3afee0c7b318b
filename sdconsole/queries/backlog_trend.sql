-- name: backlog_trend
-- title: Backlog trend
-- category: executive
-- description: Per month from the first to the last ticket created: tickets opened, tickets closed, and tickets still open at the month's end (resolved or closed tickets without a closure date are left out of the backlog).
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_created_time timestamp, tkt_closure_date timestamp, tkt_status text)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
),
months AS (
    SELECT generate_series(date_trunc('month', min(tkt_created_time)),
                           date_trunc('month', max(tkt_created_time)),
                           interval '1 month') AS month_start
    FROM t
),
opened AS (
    SELECT date_trunc('month', tkt_created_time) AS month_start, count(*) AS opened
    FROM t
    WHERE tkt_created_time IS NOT NULL
    GROUP BY 1
),
closed AS (
    SELECT date_trunc('month', tkt_closure_date) AS month_start, count(*) AS closed
    FROM t
    WHERE tkt_closure_date IS NOT NULL
    GROUP BY 1
),
backlog_moves AS (
    SELECT date_trunc('month', tkt_created_time) AS month_start, 1 AS delta
    FROM t
    WHERE tkt_created_time IS NOT NULL
      AND NOT (tkt_closure_date IS NULL AND tkt_status IN ('Resolved', 'Closed'))
    UNION ALL
    SELECT date_trunc('month', tkt_closure_date), -1
    FROM t
    WHERE tkt_created_time IS NOT NULL AND tkt_closure_date IS NOT NULL
),
moves AS (
    SELECT month_start, sum(delta) AS delta
    FROM backlog_moves
    GROUP BY 1
)
SELECT m.month_start::date AS month,
       coalesce(o.opened, 0) AS opened,
       coalesce(c.closed, 0) AS closed,
       (sum(coalesce(mv.delta, 0)) OVER (ORDER BY m.month_start))::bigint AS open_at_month_end
FROM months m
LEFT JOIN opened o USING (month_start)
LEFT JOIN closed c USING (month_start)
LEFT JOIN moves mv USING (month_start)
ORDER BY 1;
