-- name: rejects_by_column
-- title: Rejected values per column
-- category: quality
-- description: Source values that could not be typed and were recorded in _rejects, per table and column, with the number of source rows affected.
-- needs: _rejects(table_name text, column_name text, source_rowid any)
SELECT table_name,
       column_name,
       count(*) AS rejects,
       count(DISTINCT source_rowid) AS source_rows
FROM _rejects
GROUP BY table_name, column_name
ORDER BY table_name COLLATE "C", column_name COLLATE "C";
