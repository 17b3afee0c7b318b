-- name: top_accounts
-- title: Top 10 accounts by tickets
-- category: executive
-- description: The ten accounts with the most tickets: open tickets, critical tickets and SLA compliance of their closed tickets in percent.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_account_name text, tkt_status text, tkt_severity text, tkt_sla_met flag)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
)
SELECT tkt_account_name AS account,
       count(*) AS tickets,
       count(*) FILTER (WHERE tkt_status IN ('Open', 'In Progress', 'On Hold')) AS open,
       count(*) FILTER (WHERE tkt_severity = 'Critical') AS critical,
       ROUND(100.0 * count(*) FILTER (WHERE tkt_status IN ('Resolved', 'Closed') AND tkt_sla_met)
             / NULLIF(count(tkt_sla_met) FILTER (WHERE tkt_status IN ('Resolved', 'Closed')), 0),
             2) AS sla_compliance_pct
FROM t
WHERE tkt_account_name IS NOT NULL
GROUP BY tkt_account_name
ORDER BY tickets DESC, tkt_account_name COLLATE "C"
LIMIT 10;
