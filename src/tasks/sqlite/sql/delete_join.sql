-- Drops the counter of a join that fired.
-- :key TEXT.
DELETE FROM joins WHERE key = :key
