-- name: orphan_comments
-- title: Comments without a ticket
-- category: quality
-- description: Comments whose ticket id matches no ticket, the distinct missing ticket ids, their share of all comments in percent, and comments with no ticket id at all.
-- needs: tickets(tkt_ticket_id number)
-- needs: comments(ct_tkt_id number)
WITH marked AS (
    SELECT c.ct_tkt_id,
           c.ct_tkt_id IS NOT NULL AND t.tkt_ticket_id IS NULL AS orphan
    FROM comments c
    LEFT JOIN (SELECT DISTINCT tkt_ticket_id FROM tickets) t ON t.tkt_ticket_id = c.ct_tkt_id
)
SELECT count(*) AS comments,
       count(*) FILTER (WHERE orphan) AS orphans,
       count(DISTINCT ct_tkt_id) FILTER (WHERE orphan) AS missing_ticket_ids,
       ROUND(100.0 * count(*) FILTER (WHERE orphan) / NULLIF(count(*), 0), 2) AS orphan_pct,
       count(*) FILTER (WHERE ct_tkt_id IS NULL) AS without_ticket_id
FROM marked;
