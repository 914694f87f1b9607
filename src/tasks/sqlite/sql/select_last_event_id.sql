-- The id of the newest event, 0 when none was ever written (AUTOINCREMENT keeps it after pruning).
-- No parameters.
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0) AS id
