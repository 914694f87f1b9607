-- Stores one new job; an id already stored, or an idempotency key already present in the queue, makes
-- it a no-op (changes = 0).
-- :id, :queue, :task TEXT; :payload BLOB; :priority, :runAt INTEGER; :maxAttempts INTEGER;
-- :timeLimitMs INTEGER or NULL; :idempotencyKey, :grp TEXT or NULL; :resultTtlMs INTEGER;
-- :deadLetter 0/1; :parentId TEXT or NULL; :canvas BLOB or NULL; :state 'queued' or 'scheduled';
-- :createdAt INTEGER (epoch ms).
INSERT INTO jobs (
  id, queue, task, payload, priority, run_at, max_attempts, time_limit_ms, idempotency_key, grp,
  result_ttl_ms, dead_letter, parent_id, canvas, state, attempt, created_at
) VALUES (
  :id, :queue, :task, :payload, :priority, :runAt, :maxAttempts, :timeLimitMs, :idempotencyKey, :grp,
  :resultTtlMs, :deadLetter, :parentId, :canvas, :state, 0, :createdAt
)
ON CONFLICT DO NOTHING
