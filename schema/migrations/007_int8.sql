-- SPDX-License-Identifier: MIT
-- 007: int8 scores: every candidate's variant quantised to int8 after training, scored under int8 arithmetic.
-- Applied in one transaction; afterwards PRAGMA user_version = 7.

-- One candidate's int8 variant: the teacher with only that candidate in its slot, the whole assembled network
-- quantised with the library's fixed calibration (meta keys int8.*) and evaluated in integer arithmetic on the
-- validation split. Each row is committed on its own, so a killed 'hant-distill quantize' resumes at the first
-- candidate without one. A candidate whose operators have no int8 form has no row. A library migrated from
-- version 6 has no rows: its int8 devices are served with fp32 scores, and answers say so.
CREATE TABLE candidate_int8 (
  candidate_id  INTEGER PRIMARY KEY REFERENCES candidate(id) ON DELETE CASCADE,
  val_accuracy  REAL NOT NULL,        -- int8 top-1 accuracy, fraction 0-1, on the first val_images validation images
  score         REAL NOT NULL,        -- val_accuracy - the int8 teacher's (meta int8.teacher_val_accuracy)
  calib         TEXT NOT NULL,        -- calibration method the ranges were fitted with: 'minmax' or 'percentile'
  val_images    INTEGER NOT NULL,
  created       TEXT NOT NULL
);
