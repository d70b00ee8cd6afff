-- SPDX-License-Identifier: MIT
-- 002: jobs of the hantd service (assembly and export, evaluation), kept so a restart neither loses nor duplicates them.
-- Applied in one transaction; afterwards PRAGMA user_version = 2.

CREATE TABLE job (
  id        INTEGER PRIMARY KEY,
  kind      TEXT NOT NULL,                 -- 'transform' (assemble + export), 'eval'
  params    TEXT NOT NULL,                 -- JSON, as accepted by hantd
  state     TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'running', 'done', 'failed', 'canceled')),
  progress  REAL NOT NULL DEFAULT 0,       -- fraction 0-1
  note      TEXT NOT NULL DEFAULT '',      -- what the job is doing now
  result    TEXT,                          -- JSON, when done
  error     TEXT,                          -- message, when failed
  attempts  INTEGER NOT NULL DEFAULT 0,    -- times it was started (a restart re-queues a running job)
  created   TEXT NOT NULL,
  started   TEXT,
  finished  TEXT
);

CREATE INDEX job_state ON job(state, id);
