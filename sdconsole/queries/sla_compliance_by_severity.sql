-- name: sla_compliance_by_severity
-- title: SLA compliance by severity
-- category: executive
-- description: Resolved and closed tickets per severity, how many met their SLA and the compliance in percent.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_status text, tkt_severity text, tkt_sla_met flag)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
)
SELECT coalesce(tkt_severity, '(none)') AS severity,
       count(*) AS closed,
       count(tkt_sla_met) AS sla_known,
       count(*) FILTER (WHERE tkt_sla_met) AS sla_met,
       ROUND(100.0 * count(*) FILTER (WHERE tkt_sla_met) / NULLIF(count(tkt_sla_met), 0), 2)
           AS compliance_pct
FROM t
WHERE tkt_status IN ('Resolved', 'Closed')
GROUP BY tkt_severity
ORDER BY array_position(ARRAY['Critical', 'High', 'Medium', 'Low'], tkt_severity) NULLS LAST,
         tkt_severity COLLATE "C";
