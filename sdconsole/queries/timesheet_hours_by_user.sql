-- name: timesheet_hours_by_user
-- title: Timesheet hours per user
-- category: team
-- description: Hours logged per user, split into ticket work (entries with a ticket id) and other work, with the number of entries and of days worked.
-- needs: timesheets(ts_user_username text, ts_user_full_name text, ts_date any, ts_hours number, ts_crm_id any)
SELECT ts_user_username AS username,
       min(ts_user_full_name COLLATE "C") AS full_name,
       count(*) AS entries,
       count(DISTINCT ts_date) AS days,
       coalesce(sum(ts_hours), 0) AS hours,
       coalesce(sum(ts_hours) FILTER (WHERE ts_crm_id IS NOT NULL), 0) AS ticket_hours,
       coalesce(sum(ts_hours) FILTER (WHERE ts_crm_id IS NULL), 0) AS other_hours
FROM timesheets
GROUP BY ts_user_username
ORDER BY hours DESC, ts_user_username COLLATE "C" NULLS LAST;
