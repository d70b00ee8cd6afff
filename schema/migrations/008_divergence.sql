-- SPDX-License-Identifier: MIT
-- 008: each candidate's divergence from the teacher: how far, in the teacher's own output distribution, the network
-- with only that candidate in its slot moves on the validation split.
-- Applied in one transaction; afterwards PRAGMA user_version = 8.

-- Accuracy on 5,000 validation images moves in steps of 0.02 points and has a standard error of about 0.34, so the
-- single-slot scores cannot tell a harmless cut from one that costs a few tenths; summed over slots those tenths add
-- up. The mean Kullback-Leibler divergence KL(teacher || network) over the same images is paired (both networks see
-- every image) and continuous, so it ranks candidates whose scores are all noise. 'hant-distill build' measures it
-- with the score; 'hant-distill calibrate' measures it for candidates built before this version, one committed row
-- each. A library migrated from version 7 has no rows until then, and its solver keeps the noise-aware scores.
CREATE TABLE candidate_divergence (
  candidate_id  INTEGER PRIMARY KEY REFERENCES candidate(id) ON DELETE CASCADE,
  kl            REAL NOT NULL CHECK (kl >= 0),  -- mean KL(teacher || network) in nats per image, softmax at T = 1
  val_images    INTEGER NOT NULL,               -- the first validation images it was measured on
  created       TEXT NOT NULL
);

-- Migration 005 as first written let calib_fit hold three scales; libraries made with it refused a fit on the
-- fourth, 'log_odds_chance'. The table is rebuilt with the check every library of version 8 has (no other table
-- refers to it).
CREATE TABLE calib_fit_008 (
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
INSERT INTO calib_fit_008 SELECT * FROM calib_fit;
DROP TABLE calib_fit;
ALTER TABLE calib_fit_008 RENAME TO calib_fit;
