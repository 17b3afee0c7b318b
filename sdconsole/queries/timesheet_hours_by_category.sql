-- name: timesheet_hours_by_category
-- title: Timesheet hours per category
-- category: team
-- description: Hours logged per timesheet category, by how many users, and each category's share of all hours in percent.
-- needs: timesheets(ts_category text, ts_user_username any, ts_hours number)
SELECT coalesce(ts_category, '(none)') AS category,
       count(*) AS entries,
       count(DISTINCT ts_user_username) AS users,
       coalesce(sum(ts_hours), 0) AS hours,
       ROUND(100.0 * coalesce(sum(ts_hours), 0)::numeric
             / NULLIF(sum(sum(ts_hours)) OVER (), 0)::numeric, 2)
           AS share_pct
FROM timesheets
GROUP BY ts_category
ORDER BY hours DESC, ts_category COLLATE "C" NULLS LAST;
