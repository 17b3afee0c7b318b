-- name: orphan_timesheets
-- title: Ticket work logged against missing tickets
-- category: quality
-- description: Timesheet entries with a ticket id (ticket work) whose ticket does not exist, the distinct missing ids and hours, and their share of ticket work in percent; entries without a ticket id are other work, not errors.
-- needs: tickets(tkt_ticket_id number)
-- needs: timesheets(ts_crm_id number, ts_hours number)
WITH marked AS (
    SELECT s.ts_crm_id, s.ts_hours,
           s.ts_crm_id IS NOT NULL AND t.tkt_ticket_id IS NULL AS orphan
    FROM timesheets s
    LEFT JOIN (SELECT DISTINCT tkt_ticket_id FROM tickets) t ON t.tkt_ticket_id = s.ts_crm_id
)
SELECT count(*) AS entries,
       count(ts_crm_id) AS ticket_work,
       count(*) FILTER (WHERE orphan) AS orphans,
       count(DISTINCT ts_crm_id) FILTER (WHERE orphan) AS missing_ticket_ids,
       coalesce(sum(ts_hours) FILTER (WHERE orphan), 0) AS orphan_hours,
       ROUND(100.0 * count(*) FILTER (WHERE orphan) / NULLIF(count(ts_crm_id), 0), 2)
           AS orphan_pct
FROM marked;
