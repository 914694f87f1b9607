-- Drops join counters that outlived the results of every job they counted (a group with a failed member).
-- :now INTEGER (epoch ms).
DELETE FROM joins WHERE expires_at <= :now
