-- name: resolution_time_by_team_severity
-- title: Resolution time by team and severity
-- category: operations
-- description: Closed tickets per team and severity with their resolution time in hours (closure minus creation): mean, median and 90th percentile.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_team text, tkt_severity text, tkt_created_time timestamp, tkt_closure_date timestamp)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
),
resolved AS (
    SELECT tkt_team, tkt_severity,
           extract(epoch FROM tkt_closure_date) - extract(epoch FROM tkt_created_time) AS seconds
    FROM t
    WHERE tkt_closure_date IS NOT NULL AND tkt_created_time IS NOT NULL
)
SELECT coalesce(tkt_team, '(none)') AS team,
       coalesce(tkt_severity, '(none)') AS severity,
       count(*) AS resolved,
       ROUND(avg(seconds) / 3600, 2) AS avg_hours,
       ROUND(percentile_disc(0.5) WITHIN GROUP (ORDER BY seconds) / 3600, 2) AS median_hours,
       ROUND(percentile_disc(0.9) WITHIN GROUP (ORDER BY seconds) / 3600, 2) AS p90_hours
FROM resolved
GROUP BY tkt_team, tkt_severity
ORDER BY tkt_team COLLATE "C" NULLS LAST,
         array_position(ARRAY['Critical', 'High', 'Medium', 'Low'], tkt_severity) NULLS LAST,
         tkt_severity COLLATE "C";
