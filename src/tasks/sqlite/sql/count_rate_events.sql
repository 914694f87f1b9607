-- Starts counted against a rate-limit key within the window (:since, now].
-- :queue TEXT, :key TEXT (a task address or group:<name>), :since INTEGER (epoch ms).
SELECT count(*) AS n FROM rate_events WHERE queue = :queue AND key = :key AND at > :since
