-- name: timesheet_hours_by_user_month
-- title: Timesheet hours per user and month
-- category: team
-- description: Hours each user logged in each calendar month, and how many of them were ticket work.
-- needs: timesheets(ts_date timestamp, ts_user_username text, ts_hours number, ts_crm_id any)
SELECT date_trunc('month', ts_date::timestamp)::date AS month,
       ts_user_username AS username,
       count(*) AS entries,
       coalesce(sum(ts_hours), 0) AS hours,
       coalesce(sum(ts_hours) FILTER (WHERE ts_crm_id IS NOT NULL), 0) AS ticket_hours
FROM timesheets
WHERE ts_date IS NOT NULL
GROUP BY 1, ts_user_username
ORDER BY 1, ts_user_username COLLATE "C" NULLS LAST;
