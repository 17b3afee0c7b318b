-- name: agent_comment_activity
-- title: Agent comment activity
-- category: team
-- description: Comments written by each agent: how many, on how many tickets, how many the customer can see, and the first and last one.
-- needs: comments(ct_useridname text, ct_ownertype text, ct_tkt_id any, ct_visible_customer flag, ct_created_time timestamp)
SELECT ct_useridname AS agent,
       count(*) AS comments,
       count(DISTINCT ct_tkt_id) AS tickets,
       count(*) FILTER (WHERE ct_visible_customer) AS customer_visible,
       min(ct_created_time) AS first_comment,
       max(ct_created_time) AS last_comment
FROM comments
WHERE ct_ownertype = 'Agent' AND ct_useridname IS NOT NULL
GROUP BY ct_useridname
ORDER BY comments DESC, ct_useridname COLLATE "C";
