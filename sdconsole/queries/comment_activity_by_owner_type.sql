-- name: comment_activity_by_owner_type
-- title: Comment activity by author type
-- category: operations
-- description: Comments by agents, customers and the system: how many, on how many tickets, and the share visible to the customer in percent.
-- needs: comments(ct_ownertype text, ct_tkt_id any, ct_visible_customer flag)
SELECT coalesce(ct_ownertype, '(none)') AS owner_type,
       count(*) AS comments,
       count(DISTINCT ct_tkt_id) AS tickets,
       ROUND(100.0 * count(*) FILTER (WHERE ct_visible_customer)
             / NULLIF(count(ct_visible_customer), 0), 2) AS customer_visible_pct
FROM comments
GROUP BY ct_ownertype
ORDER BY comments DESC, ct_ownertype COLLATE "C" NULLS LAST;
