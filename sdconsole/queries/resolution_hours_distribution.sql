-- name: resolution_hours_distribution
-- title: Distribution of reported resolution hours
-- category: operations
-- description: Tickets by their reported resolution hours in five bands, with each band's share in percent of the tickets that report hours.
-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp, tkt_title text, tkt_resolution_hours number)
WITH t AS (
    SELECT DISTINCT ON (tkt_ticket_id) *
    FROM tickets
    ORDER BY tkt_ticket_id, tkt_modified_time DESC NULLS LAST, tkt_title COLLATE "C"
),
bands (rank, band, lower_bound, upper_bound) AS (
    VALUES (1, 'under 4 hours', NULL, 4),
           (2, '4 to 24 hours', 4, 24),
           (3, '1 to 3 days', 24, 72),
           (4, '3 to 7 days', 72, 168),
           (5, 'over 7 days', 168, NULL)
),
counted AS (
    SELECT b.rank, b.band, count(t.tkt_resolution_hours) AS tickets
    FROM bands b
    LEFT JOIN t
           ON (b.lower_bound IS NULL OR t.tkt_resolution_hours >= b.lower_bound)
          AND (b.upper_bound IS NULL OR t.tkt_resolution_hours < b.upper_bound)
    GROUP BY b.rank, b.band
)
SELECT band,
       tickets,
       ROUND(100.0 * tickets / NULLIF(sum(tickets) OVER (), 0), 2) AS share_pct
FROM counted
ORDER BY rank;
