-- Deletes finished jobs whose results expired.
-- :now INTEGER (epoch ms).
DELETE FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= :now
