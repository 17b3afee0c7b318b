-- name: duplicate_ticket_ids
-- title: Duplicate ticket ids
-- category: quality
-- description: Ticket ids that appear on more than one row, with the number of rows and of distinct titles; dashboards count such a ticket once.
-- needs: tickets(tkt_ticket_id any, tkt_title any, tkt_created_time timestamp)
SELECT tkt_ticket_id AS ticket_id,
       count(*) AS copies,
       count(DISTINCT tkt_title) AS titles,
       min(tkt_created_time) AS created
FROM tickets
WHERE tkt_ticket_id IS NOT NULL
GROUP BY tkt_ticket_id
HAVING count(*) > 1
ORDER BY tkt_ticket_id;
