-- name: sla_compliance_monthly
-- title: SLA compliance per month
-- category: executive
-- description: Of the tickets closed in each month whose SLA flag is known, how many met their SLA, in percent.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_closure_date timestamp, tkt_sla_met flag)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
)
SELECT date_trunc('month', tkt_closure_date)::date AS month,
       count(*) AS closed,
       count(tkt_sla_met) AS sla_known,
       count(*) FILTER (WHERE tkt_sla_met) AS sla_met,
       ROUND(100.0 * count(*) FILTER (WHERE tkt_sla_met) / NULLIF(count(tkt_sla_met), 0), 2)
           AS compliance_pct
FROM t
WHERE tkt_closure_date IS NOT NULL
GROUP BY 1
ORDER BY 1;
