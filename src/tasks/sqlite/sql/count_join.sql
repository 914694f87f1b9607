-- Counts one completion toward a join (broker.ts Join) and keeps its counter at least until :expiresAt;
-- returns the count so far.
-- :key TEXT, :expiresAt INTEGER (epoch ms: the counted job's expiresAt).
INSERT INTO joins (key, count, expires_at) VALUES (:key, 1, :expiresAt)
ON CONFLICT (key) DO UPDATE SET count = count + 1, expires_at = max(expires_at, excluded.expires_at)
RETURNING count
