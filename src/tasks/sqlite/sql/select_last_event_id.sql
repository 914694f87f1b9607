-- The id of the newest event, 0 when there is none.
-- No parameters.
SELECT coalesce(max(id), 0) AS id FROM events
