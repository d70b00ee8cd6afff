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
