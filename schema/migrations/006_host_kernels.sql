-- SPDX-License-Identifier: MIT
-- 006: the host's single-kernel latency table, measured at sampled configurations, that the kernel-level host
-- latency model is fitted from (operator_lib/cost/kernelmodel.h).
-- Applied in one transaction; afterwards PRAGMA user_version = 6.

-- One kernel (a fused convolution group, a pooling, a linear layer, ...) measured alone on one machine. Rows are
-- keyed by the CPU they were measured on (model name and logical CPU count) and the thread count, so a library
-- copied to another machine can tell that its table is foreign. A new sweep replaces the rows of its key.
CREATE TABLE host_kernel (
  id          INTEGER PRIMARY KEY,
  cpu         TEXT NOT NULL,              -- e.g. 'AMD EPYC 9R45 (2 logical CPUs)'
  threads     INTEGER NOT NULL CHECK (threads >= 1),
  op          TEXT NOT NULL,              -- node op the kernel runs: 'conv', 'linear', 'maxpool', 'gap', ...
  c_in        INTEGER NOT NULL, h_in INTEGER NOT NULL, w_in INTEGER NOT NULL,    -- input of one sample
  c_out       INTEGER NOT NULL, h_out INTEGER NOT NULL, w_out INTEGER NOT NULL,  -- output of one sample
  kh          INTEGER NOT NULL DEFAULT 0, kw INTEGER NOT NULL DEFAULT 0,         -- kernel (conv, pooling)
  sh          INTEGER NOT NULL DEFAULT 0, sw INTEGER NOT NULL DEFAULT 0,         -- stride
  ph          INTEGER NOT NULL DEFAULT 0, pw INTEGER NOT NULL DEFAULT 0,         -- padding
  groups      INTEGER NOT NULL DEFAULT 1,
  bn          INTEGER NOT NULL DEFAULT 0, -- conv: batch norm folded in
  sum         INTEGER NOT NULL DEFAULT 0, -- conv: residual summed into the output (1), after a copy (2)
  act         TEXT NOT NULL DEFAULT '',   -- fused (conv) or own (act) activation, '' for none
  batch       INTEGER NOT NULL CHECK (batch >= 1),
  latency_us  REAL NOT NULL CHECK (latency_us > 0),  -- median of samples after a warm-up, per run
  spread      REAL NOT NULL,              -- (p90 - p10) / median
  samples     INTEGER NOT NULL,
  created     TEXT NOT NULL
);
CREATE INDEX host_kernel_key ON host_kernel (cpu, threads, batch);
