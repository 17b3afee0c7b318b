-- name: consistency_checks
-- title: Consistency checks
-- category: quality
-- description: Rows that contradict themselves or each other: closed without closure date, open with one, closure or update before creation, comments before their ticket, timesheet entries ending before they start.
-- needs: tickets(tkt_ticket_id number, tkt_status text, tkt_created_time timestamp, tkt_modified_time timestamp, tkt_closure_date timestamp)
-- needs: comments(ct_tkt_id number, ct_created_time timestamp)
-- needs: timesheets(ts_time_from time, ts_time_to time)
WITH first_created AS (
    SELECT tkt_ticket_id, min(tkt_created_time) AS created
    FROM tickets
    GROUP BY tkt_ticket_id
),
checks (rank, check_name, failing) AS (
    SELECT 1, 'resolved or closed without closure date',
           (SELECT count(*) FROM tickets
             WHERE tkt_status IN ('Resolved', 'Closed') AND tkt_closure_date IS NULL)
    UNION ALL
    SELECT 2, 'open with a closure date',
           (SELECT count(*) FROM tickets
             WHERE tkt_status IN ('Open', 'In Progress', 'On Hold')
               AND tkt_closure_date IS NOT NULL)
    UNION ALL
    SELECT 3, 'closed before created',
           (SELECT count(*) FROM tickets WHERE tkt_closure_date < tkt_created_time)
    UNION ALL
    SELECT 4, 'modified before created',
           (SELECT count(*) FROM tickets WHERE tkt_modified_time < tkt_created_time)
    UNION ALL
    SELECT 5, 'comment before its ticket was created',
           (SELECT count(*) FROM comments c JOIN first_created f ON f.tkt_ticket_id = c.ct_tkt_id
             WHERE c.ct_created_time < f.created)
    UNION ALL
    SELECT 6, 'timesheet entry ends before it starts',
           (SELECT count(*) FROM timesheets WHERE ts_time_to < ts_time_from)
)
SELECT check_name, failing
FROM checks
ORDER BY rank;
