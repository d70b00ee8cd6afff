-- SPDX-License-Identifier: MIT
-- 001: the operator library: teacher, slots, candidates, devices, costs, build runs.
-- Applied in one transaction; afterwards PRAGMA user_version = 1.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- The network being transformed. One library holds one teacher.
CREATE TABLE teacher (
  id            INTEGER PRIMARY KEY,
  sha256        TEXT NOT NULL UNIQUE,   -- of the teacher file's bytes
  path          TEXT NOT NULL,          -- as given when the library was built
  format        TEXT NOT NULL,          -- 'onnx' or 'hant'
  input_c       INTEGER NOT NULL,
  input_h       INTEGER NOT NULL,
  input_w       INTEGER NOT NULL,
  classes       INTEGER NOT NULL,
  macs          REAL NOT NULL,          -- per sample
  params        INTEGER NOT NULL,
  val_accuracy  REAL NOT NULL,          -- fraction 0-1 on the split below
  val_split     TEXT NOT NULL,          -- e.g. 'fmnist train[55000:60000)'
  val_images    INTEGER NOT NULL,
  created       TEXT NOT NULL
);

-- Replaceable blocks of the teacher, in network order.
CREATE TABLE slot (
  id          INTEGER PRIMARY KEY,
  teacher_id  INTEGER NOT NULL REFERENCES teacher(id) ON DELETE CASCADE,
  idx         INTEGER NOT NULL,
  name        TEXT NOT NULL,
  kind        TEXT NOT NULL,            -- conv, res, ir, dws, linear, ...
  arch        TEXT NOT NULL,            -- architecture line of the teacher block
  in_c INTEGER NOT NULL, in_h INTEGER NOT NULL, in_w INTEGER NOT NULL,
  out_c INTEGER NOT NULL, out_h INTEGER NOT NULL, out_w INTEGER NOT NULL,
  macs        REAL NOT NULL,
  params      INTEGER NOT NULL,
  UNIQUE (teacher_id, idx)
);

-- Trained replacements. A row exists only for a finished candidate: each is
-- committed in its own transaction, so a killed build loses at most the
-- candidates in flight.
CREATE TABLE candidate (
  id              INTEGER PRIMARY KEY,
  slot_id         INTEGER NOT NULL REFERENCES slot(id) ON DELETE CASCADE,
  key             TEXT NOT NULL,        -- family and hyper-parameters, unique per slot
  family          TEXT NOT NULL,
  arch            TEXT NOT NULL,        -- full description: 'input CxHxW; <block>'
  hparams         TEXT NOT NULL,        -- JSON object
  init            TEXT NOT NULL,        -- teacher-copy, slice, svd, l1-prune, random, ...
  seed            INTEGER NOT NULL,
  weights         BLOB NOT NULL,        -- native network file (checksummed)
  params          INTEGER NOT NULL,
  macs            REAL NOT NULL,        -- per sample
  peak_act_bytes  INTEGER NOT NULL,     -- batch 1, float32
  loss_init       REAL NOT NULL,        -- distillation MSE on validation images, before training
  loss_final      REAL NOT NULL,        -- and after
  val_accuracy    REAL NOT NULL,        -- teacher with only this slot replaced
  score           REAL NOT NULL,        -- val_accuracy - teacher.val_accuracy (negative: loss)
  train_samples   INTEGER NOT NULL,
  train_seconds   REAL NOT NULL,
  cpu_seconds     REAL NOT NULL,
  created         TEXT NOT NULL,
  UNIQUE (slot_id, key)
);

-- Device profiles as loaded (JSON text), so costs can be traced to them.
CREATE TABLE device (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  profile         TEXT NOT NULL,
  profile_sha256  TEXT NOT NULL,
  updated         TEXT NOT NULL
);

-- Cost of one candidate on one device (and power mode, and batch size).
CREATE TABLE cost (
  candidate_id    INTEGER NOT NULL REFERENCES candidate(id) ON DELETE CASCADE,
  device_id       INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
  power_mode      TEXT NOT NULL DEFAULT '',
  batch           INTEGER NOT NULL DEFAULT 1,
  latency_ms      REAL NOT NULL,        -- median
  latency_spread  REAL,                 -- (p90 - p10) / median, measured only
  energy_mj       REAL NOT NULL,
  memory_bytes    INTEGER NOT NULL,     -- weights + peak activations
  source          TEXT NOT NULL CHECK (source IN ('measured', 'imported', 'modelled')),
  energy_source   TEXT NOT NULL,        -- 'rapl', 'ina3221', 'modelled: ...'
  detail          TEXT NOT NULL DEFAULT '{}',  -- JSON: threads, cpu model, runs, ...
  updated         TEXT NOT NULL,
  PRIMARY KEY (candidate_id, device_id, power_mode, batch)
);

-- What building the library cost: carbon is the point of this project.
CREATE TABLE build_run (
  id              INTEGER PRIMARY KEY,
  started         TEXT NOT NULL,
  finished        TEXT,
  args            TEXT NOT NULL,
  candidates      INTEGER NOT NULL DEFAULT 0,  -- trained in this run
  wall_seconds    REAL NOT NULL DEFAULT 0,
  cpu_seconds     REAL NOT NULL DEFAULT 0,
  energy_j        REAL NOT NULL DEFAULT 0,
  energy_source   TEXT NOT NULL DEFAULT '',
  grid_g_per_kwh  REAL NOT NULL DEFAULT 0,
  co2_g           REAL NOT NULL DEFAULT 0
);

CREATE INDEX candidate_slot ON candidate(slot_id);
CREATE INDEX cost_device ON cost(device_id);

INSERT INTO meta (key, value) VALUES ('application', 'hant operator library');
INSERT INTO meta (key, value) VALUES ('library_version', '0');
