-- name: quarterly_summary
-- title: Quarterly summary
-- category: executive
-- description: Per calendar quarter: tickets opened, tickets closed, their mean resolution time in hours (closure minus creation) and SLA compliance in percent.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_created_time timestamp, tkt_closure_date timestamp, tkt_sla_met flag)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
),
opened AS (
    SELECT date_trunc('quarter', tkt_created_time)::date AS quarter, count(*) AS opened
    FROM t
    WHERE tkt_created_time IS NOT NULL
    GROUP BY 1
),
closed AS (
    SELECT date_trunc('quarter', tkt_closure_date)::date AS quarter,
           count(*) AS closed,
           ROUND(avg(extract(epoch FROM tkt_closure_date) - extract(epoch FROM tkt_created_time))
                 / 3600, 2)
               AS avg_resolution_hours,
           ROUND(100.0 * count(*) FILTER (WHERE tkt_sla_met) / NULLIF(count(tkt_sla_met), 0), 2)
               AS sla_compliance_pct
    FROM t
    WHERE tkt_closure_date IS NOT NULL
    GROUP BY 1
)
SELECT quarter,
       coalesce(opened, 0) AS opened,
       coalesce(closed, 0) AS closed,
       avg_resolution_hours,
       sla_compliance_pct
FROM opened FULL JOIN closed USING (quarter)
ORDER BY quarter;
