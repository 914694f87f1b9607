-- Deletes events older than the retention, but never the newest one: new ids are max(id) + 1, so the
-- newest row keeps ids from being reused. Event times grow with ids (one machine, commit order), so the
-- cut is the first event at or after :before, found by a scan from the oldest: no index on `at` has to
-- be kept up to date by every state change.
-- :before INTEGER (epoch ms, exclusive).
DELETE FROM events
WHERE id < coalesce(
  (SELECT id FROM events WHERE at >= :before ORDER BY id LIMIT 1),
  (SELECT max(id) FROM events),
  0
)
