-- Claims one tick of a schedule: inserts (schedule, tick) unless present, so one caller wins (changes = 1).
-- :scheduleId TEXT, :tickAt INTEGER, :schedulerId TEXT, :now INTEGER (epoch ms).
INSERT INTO ticks (schedule_id, tick_at, scheduler_id, claimed_at)
VALUES (:scheduleId, :tickAt, :schedulerId, :now)
ON CONFLICT DO NOTHING
