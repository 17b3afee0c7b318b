-- name: missing_values_by_column
-- title: Missing values per column
-- category: quality
-- description: For every column of tickets, comments and timesheets, the rows where it is empty (NULL after migration: missing in the source or rejected), in number and percent.
-- needs: tickets(tkt_ticket_id any, tkt_title any, tkt_status any, tkt_category any, tkt_severity any, tkt_team any, tkt_assigned_to any, tkt_account_name any)
-- needs: tickets(tkt_created_time any, tkt_modified_time any, tkt_closure_date any, tkt_sla_met any, tkt_reopened any, tkt_resolution_hours any, tkt_description any)
-- needs: comments(ct_comment_id any, ct_tkt_id any, ct_created_time any, ct_comment any, ct_useridname any, ct_ownertype any, ct_visible_customer any, ct_type any)
-- needs: timesheets(ts_title any, ts_hours any, ts_date any, ts_time_from any, ts_time_to any, ts_category any, ts_crm_id any)
-- needs: timesheets(ts_user_username any, ts_user_full_name any, ts_description any)
WITH t AS (
    SELECT count(*) AS n,
           count(*) - count(tkt_ticket_id) AS tkt_ticket_id,
           count(*) - count(tkt_title) AS tkt_title,
           count(*) - count(tkt_status) AS tkt_status,
           count(*) - count(tkt_category) AS tkt_category,
           count(*) - count(tkt_severity) AS tkt_severity,
           count(*) - count(tkt_team) AS tkt_team,
           count(*) - count(tkt_assigned_to) AS tkt_assigned_to,
           count(*) - count(tkt_account_name) AS tkt_account_name,
           count(*) - count(tkt_created_time) AS tkt_created_time,
           count(*) - count(tkt_modified_time) AS tkt_modified_time,
           count(*) - count(tkt_closure_date) AS tkt_closure_date,
           count(*) - count(tkt_sla_met) AS tkt_sla_met,
           count(*) - count(tkt_reopened) AS tkt_reopened,
           count(*) - count(tkt_resolution_hours) AS tkt_resolution_hours,
           count(*) - count(tkt_description) AS tkt_description
    FROM tickets
),
c AS (
    SELECT count(*) AS n,
           count(*) - count(ct_comment_id) AS ct_comment_id,
           count(*) - count(ct_tkt_id) AS ct_tkt_id,
           count(*) - count(ct_created_time) AS ct_created_time,
           count(*) - count(ct_comment) AS ct_comment,
           count(*) - count(ct_useridname) AS ct_useridname,
           count(*) - count(ct_ownertype) AS ct_ownertype,
           count(*) - count(ct_visible_customer) AS ct_visible_customer,
           count(*) - count(ct_type) AS ct_type
    FROM comments
),
s AS (
    SELECT count(*) AS n,
           count(*) - count(ts_title) AS ts_title,
           count(*) - count(ts_hours) AS ts_hours,
           count(*) - count(ts_date) AS ts_date,
           count(*) - count(ts_time_from) AS ts_time_from,
           count(*) - count(ts_time_to) AS ts_time_to,
           count(*) - count(ts_category) AS ts_category,
           count(*) - count(ts_crm_id) AS ts_crm_id,
           count(*) - count(ts_user_username) AS ts_user_username,
           count(*) - count(ts_user_full_name) AS ts_user_full_name,
           count(*) - count(ts_description) AS ts_description
    FROM timesheets
)
SELECT table_name, column_name, rows, missing,
       ROUND(100.0 * missing / NULLIF(rows, 0), 2) AS missing_pct
FROM (
    SELECT 'tickets' AS table_name, m.column_name, t.n AS rows, m.missing
    FROM t CROSS JOIN LATERAL (VALUES
            ('tkt_ticket_id', t.tkt_ticket_id),
            ('tkt_title', t.tkt_title),
            ('tkt_status', t.tkt_status),
            ('tkt_category', t.tkt_category),
            ('tkt_severity', t.tkt_severity),
            ('tkt_team', t.tkt_team),
            ('tkt_assigned_to', t.tkt_assigned_to),
            ('tkt_account_name', t.tkt_account_name),
            ('tkt_created_time', t.tkt_created_time),
            ('tkt_modified_time', t.tkt_modified_time),
            ('tkt_closure_date', t.tkt_closure_date),
            ('tkt_sla_met', t.tkt_sla_met),
            ('tkt_reopened', t.tkt_reopened),
            ('tkt_resolution_hours', t.tkt_resolution_hours),
            ('tkt_description', t.tkt_description)
    ) AS m (column_name, missing)
    UNION ALL
    SELECT 'comments' AS table_name, m.column_name, c.n AS rows, m.missing
    FROM c CROSS JOIN LATERAL (VALUES
            ('ct_comment_id', c.ct_comment_id),
            ('ct_tkt_id', c.ct_tkt_id),
            ('ct_created_time', c.ct_created_time),
            ('ct_comment', c.ct_comment),
            ('ct_useridname', c.ct_useridname),
            ('ct_ownertype', c.ct_ownertype),
            ('ct_visible_customer', c.ct_visible_customer),
            ('ct_type', c.ct_type)
    ) AS m (column_name, missing)
    UNION ALL
    SELECT 'timesheets' AS table_name, m.column_name, s.n AS rows, m.missing
    FROM s CROSS JOIN LATERAL (VALUES
            ('ts_title', s.ts_title),
            ('ts_hours', s.ts_hours),
            ('ts_date', s.ts_date),
            ('ts_time_from', s.ts_time_from),
            ('ts_time_to', s.ts_time_to),
            ('ts_category', s.ts_category),
            ('ts_crm_id', s.ts_crm_id),
            ('ts_user_username', s.ts_user_username),
            ('ts_user_full_name', s.ts_user_full_name),
            ('ts_description', s.ts_description)
    ) AS m (column_name, missing)
) AS per_column
ORDER BY table_name COLLATE "C", column_name COLLATE "C";
