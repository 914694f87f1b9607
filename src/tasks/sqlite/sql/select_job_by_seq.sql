-- One job by row number (for rows whose id column itself may be damaged).
-- :seq INTEGER.
SELECT * FROM jobs WHERE seq = :seq
