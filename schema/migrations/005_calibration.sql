-- SPDX-License-Identifier: MIT
-- 005: the calibrated accuracy predictor: assembled networks measured on the validation split, and the fit on them.
-- Applied in one transaction; afterwards PRAGMA user_version = 5.

-- One assembled network (one candidate per slot) measured on the validation split. A calibration run draws a
-- plan of selections from its seed and commits each measured one in its own transaction, so a killed run
-- resumes at the first plan position without a row.
CREATE TABLE calib_sample (
  id            INTEGER PRIMARY KEY,
  seed          INTEGER NOT NULL,     -- of the plan the selection was drawn from
  idx           INTEGER NOT NULL,     -- its position in that plan
  origin        TEXT NOT NULL,        -- 'teacher', 'random' (stratified by MACs) or 'solver'
  note          TEXT NOT NULL DEFAULT '',  -- e.g. 'stratum 3 of 48' or 'rpi4 energy_mj 1/4'
  selection     TEXT NOT NULL,        -- candidate ids, one per slot in slot order, comma-separated
  macs          REAL NOT NULL,        -- of the assembled network, per sample
  val_accuracy  REAL NOT NULL,        -- fraction 0-1 on the first val_images validation images
  val_images    INTEGER NOT NULL,
  seconds       REAL NOT NULL,        -- wall time of assembling and measuring it
  created       TEXT NOT NULL,
  UNIQUE (seed, idx)
);

-- The fit: predicted accuracy = link^-1(intercept + sum of the chosen candidates' coefficients), the link
-- being the scale ('accuracy': identity; 'log_error': -log(1 - a); 'log_odds': log(a / (1 - a))), all
-- increasing, so maximising the summed coefficients maximises the prediction. One row per library.
CREATE TABLE calib_fit (
  id                  INTEGER PRIMARY KEY CHECK (id = 1),
  scale               TEXT NOT NULL CHECK (scale IN ('accuracy', 'log_error', 'log_odds', 'log_odds_chance')),
  intercept           REAL NOT NULL,
  ridge               REAL NOT NULL,    -- the ridge strength chosen by held-out error
  noise_se            REAL NOT NULL,    -- standard error of a single-slot score; scores within it are no gain
  samples             INTEGER NOT NULL, -- samples fitted
  folds               INTEGER NOT NULL, -- of the cross-validation behind the figures below
  heldout_median_abs_err REAL NOT NULL, -- |predicted - measured| validation accuracy, fraction, held out
  heldout_p90_abs_err REAL NOT NULL,
  heldout_kendall_tau REAL NOT NULL,    -- tau-b between held-out predictions and measurements
  heldout_samples     INTEGER NOT NULL,
  images              INTEGER NOT NULL, -- validation images evaluated for all samples
  seconds             REAL NOT NULL,    -- wall time of measuring all samples
  seed                INTEGER NOT NULL,
  created             TEXT NOT NULL
);

-- A coefficient for every candidate of the library when the fit was made; a candidate added since has none,
-- and the library then counts as uncalibrated until the next calibration.
CREATE TABLE calib_coef (
  candidate_id  INTEGER PRIMARY KEY REFERENCES candidate(id) ON DELETE CASCADE,
  coef          REAL NOT NULL,        -- on the fit's scale
  prior         REAL NOT NULL,        -- the ridge's prior mean: the noise-thresholded single-slot score on that scale
  samples       INTEGER NOT NULL      -- fitted samples that contain the candidate
);
