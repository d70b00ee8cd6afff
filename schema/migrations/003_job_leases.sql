-- SPDX-License-Identifier: MIT
-- 003: leases on hantd's jobs, so that two daemons on one library never run the same job, and each attempt's history.
-- Applied in one transaction; afterwards PRAGMA user_version = 3.

-- A running job belongs to the daemon that claimed it for as long as that daemon renews its lease. A job
-- left running by version 2 has no owner and no heartbeat: its lease counts as expired.
ALTER TABLE job ADD COLUMN owner TEXT;                        -- the claiming daemon's id, while running
ALTER TABLE job ADD COLUMN heartbeat_ms INTEGER;              -- Unix time (ms) of the owner's last renewal
ALTER TABLE job ADD COLUMN cancel INTEGER NOT NULL DEFAULT 0; -- 1: jobs.cancel asked the owner to stop it

-- One row per start of a job: who ran it, when, and why the attempt ended.
CREATE TABLE job_attempt (
  job      INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
  attempt  INTEGER NOT NULL,  -- 1, 2, ...: job.attempts when it started
  owner    TEXT NOT NULL,     -- the daemon's id
  started  TEXT NOT NULL,     -- ISO 8601 UTC
  ended    TEXT,              -- ISO 8601 UTC; NULL while it runs
  outcome  TEXT,              -- why it ended; NULL while it runs
  PRIMARY KEY (job, attempt)
) WITHOUT ROWID;

CREATE INDEX job_finished ON job(finished) WHERE state IN ('done', 'failed', 'canceled');
