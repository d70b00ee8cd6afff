-- SPDX-License-Identifier: MIT
-- 004: the teacher's file stored in the library, so that a library needs no file beside it (a daemon that left
-- the directory it was started in, a library copied to another machine).
-- Applied in one transaction; afterwards PRAGMA user_version = 4.

-- The exact bytes of the file the library was built from (ONNX or hant's native format), with their SHA-256,
-- which equals teacher.sha256. A library built before version 4 has no row here: it reads its teacher from
-- teacher.path until 'hant-distill library --db L --store-teacher FILE' stores it.
CREATE TABLE teacher_file (
  teacher_id  INTEGER PRIMARY KEY REFERENCES teacher(id) ON DELETE CASCADE,
  sha256      TEXT NOT NULL,     -- of bytes, lowercase hex
  size        INTEGER NOT NULL,  -- bytes
  bytes       BLOB NOT NULL
);
