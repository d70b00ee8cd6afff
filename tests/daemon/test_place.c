/* SPDX-License-Identifier: MIT */
/* test_place.c: hantd's places: paths opened beneath a directory without links (openat2 and the walk), refusals that tell nothing, owners and modes. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hant.h"
#include "test_util.h"

static char T[] = "/tmp/hant-test-place.XXXXXX";

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  HANT_ASSERT(f);
  fputs(text, f);
  fclose(f);
}

static bool has(const char *path, const char *text) {
  char buf[64] = {0};
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
  if (f)
    fclose(f);
  return n == strlen(text) && !memcmp(buf, text, n);
}

static char *at(const char *rel) {
  static char buf[8][512];
  static int k;
  char *b = buf[k++ % 8];
  snprintf(b, 512, "%s/%s", T, rel);
  return b;
}

/* The same checks with openat2 and with the component walk. */
static void test_open_beneath(bool walk) {
  const char *m = walk ? "walk" : "openat2";
  hant__path_walk_only(walk);
  int root = open(at("tree"), O_PATH | O_DIRECTORY);
  HANT_ASSERT(root >= 0);
  int fd = hant_path_open_beneath(root, "a/b/file", O_RDONLY, 0);
  CHECK(fd >= 0, "%s: a file beneath opens: %d", m, fd);
  if (fd >= 0)
    close(fd);
  CHECK(hant_path_open_beneath(root, "a/./b//file", O_RDONLY, 0) >= 0, "%s: '.' and '//' are fine", m);
  CHECK(hant_path_open_beneath(root, "a/link-out", O_RDONLY, 0) == -ELOOP, "%s: a link as the last component", m);
  CHECK(hant_path_open_beneath(root, "a/dirlink/file", O_RDONLY, 0) == -ELOOP, "%s: a link to a directory on the way",
        m);
  CHECK(hant_path_open_beneath(root, "a/dirlink", O_PATH | O_DIRECTORY, 0) == -ELOOP, "%s: a directory link, O_PATH", m);
  CHECK(hant_path_open_beneath(root, "a/../a/b/file", O_RDONLY, 0) == -EXDEV, "%s: '..' that stays beneath", m);
  CHECK(hant_path_open_beneath(root, "../secret", O_RDONLY, 0) == -EXDEV, "%s: '..' out", m);
  CHECK(hant_path_open_beneath(root, "/etc/passwd", O_RDONLY, 0) == -EXDEV, "%s: an absolute path", m);
  CHECK(hant_path_open_beneath(root, "a/missing", O_RDONLY, 0) == -ENOENT, "%s: a missing file", m);
  CHECK(hant_path_open_beneath(root, "a/b/file/x", O_RDONLY, 0) == -ENOTDIR, "%s: a file as a directory", m);
  fd = hant_path_open_beneath(root, "a/fifo", O_RDONLY | O_NONBLOCK, 0);
  CHECK(fd >= 0, "%s: a FIFO opens at once with O_NONBLOCK: %d", m, fd);
  if (fd >= 0)
    close(fd);
  close(root);
  hant__path_walk_only(false);
}

static int resolve(const hant_places *p, uid_t uid, hant_place_use use, const char *path, hant_place_file *f) {
  hant_errmsg_clear();
  return hant_places_resolve(p, uid, use, "out", path, f);
}

static void test_places(void) {
  uid_t me = geteuid();
  const char *outs[] = {at("out")}, *models[] = {at("models")};
  hant_places *p = NULL;
  int rc = hant_places_open(at("state/deep"), outs, 1, models, 1, &p);
  CHECK(rc == 0, "places open: %s", hant_errmsg());
  if (rc)
    return;
  struct stat st;
  CHECK(stat(at("state/deep"), &st) == 0 && (st.st_mode & 0777) == 0711, "the state directory is made 0711");
  CHECK(stat(at("state/deep/users"), &st) == 0 && (st.st_mode & 0777) == 0711, "users/ is made 0711");
  char jobs[600];
  snprintf(jobs, sizeof(jobs), "%s/jobs", at("state/deep"));
  CHECK(stat(jobs, &st) == 0 && (st.st_mode & 0777) == 0700 && !strcmp(hant_places_jobs_dir(p), jobs),
        "jobs/ is made 0700 and named: %s", hant_places_jobs_dir(p));
  hant_places_forbid(p, at("out/lib.db"));
  hant_places_forbid(p, at("out/lib.db-wal"));
  put(at("out/lib.db"), "library");

  /* A name: beneath the peer's own directory, made on first use. */
  hant_place_file f;
  rc = resolve(p, me, HANT_PLACE_WRITE, "x.onnx", &f);
  char want[600];
  snprintf(want, sizeof(want), "%s/users/%u/x.onnx", at("state/deep"), (unsigned)me);
  CHECK(rc == 0 && !strcmp(f.path, want) && f.own, "a name lies in the peer's own directory: %s", f.path);
  CHECK(rc == 0 && hant_place_file_write(p, &f, "out", "data", 4) == 0 && has(want, "data"), "written there: %s",
        hant_errmsg());
  CHECK(stat(want, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600, got %o", st.st_mode & 0777);
  hant_place_file_close(&f);
  snprintf(want, sizeof(want), "%s/users/%u", at("state/deep"), (unsigned)me);
  CHECK(stat(want, &st) == 0 && (st.st_mode & 0777) == 0700 && st.st_uid == me, "the own directory is 0700, got %o",
        st.st_mode & 0777);
  /* The same file by its absolute path. */
  snprintf(want, sizeof(want), "%s/users/%u/x.onnx", at("state/deep"), (unsigned)me);
  CHECK(resolve(p, me, HANT_PLACE_READ, want, &f) == 0, "its absolute path: %s", hant_errmsg());
  int fd = -1;
  CHECK(hant_place_file_open(p, &f, "model", &fd) == 0, "read back: %s", hant_errmsg());
  if (fd >= 0)
    close(fd);
  hant_place_file_close(&f);

  /* Outside: refused by the text, with one message whether the file exists or not. */
  char m1[1024], m2[1024];
  CHECK(resolve(p, me, HANT_PLACE_WRITE, "/etc/passwd", &f) == HANT_EINVAL && f.dir_fd < 0, "outside refused");
  snprintf(m1, sizeof(m1), "%s", hant_errmsg());
  CHECK(strstr(m1, "out: '/etc/passwd' is outside the directories hantd writes for uid") && strstr(m1, at("out")) &&
            !strstr(m1, at("models")),
        "the message names the field and the places for writing: %s", m1);
  resolve(p, me, HANT_PLACE_WRITE, "/etc/no-such-file-here", &f);
  snprintf(m2, sizeof(m2), "%s", hant_errmsg());
  char *a = strstr(m1, "' is"), *b = strstr(m2, "' is");
  CHECK(a && b && !strcmp(a, b), "an existing and a missing file get the same refusal:\n  %s\n  %s", m1, m2);
  CHECK(resolve(p, me, HANT_PLACE_READ, at("out/x.onnx"), &f) == HANT_EINVAL, "an output directory is not read");
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("models/x.onnx"), &f) == HANT_EINVAL, "a model directory is not written");
  CHECK(resolve(p, me, HANT_PLACE_WRITE, "../x", &f) == HANT_EINVAL && strstr(hant_errmsg(), "'..'"), "'..' refused");
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out/../etc/x"), &f) == HANT_EINVAL, "'..' in an absolute path");
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out"), &f) == HANT_EINVAL && strstr(hant_errmsg(), "directory"),
        "a place itself is not a file: %s", hant_errmsg());
  CHECK(resolve(p, me, HANT_PLACE_WRITE, "", &f) == HANT_EINVAL, "empty refused");

  /* An output directory, and the daemon's own files in it. */
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out//sub/../y.onnx"), &f) == HANT_EINVAL, "'..' anywhere");
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out/y.onnx"), &f) == 0 && !strcmp(f.path, at("out/y.onnx")),
        "beneath an output directory: %s", hant_errmsg());
  hant_place_file_close(&f);
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out/lib.db"), &f) == HANT_EINVAL && strstr(hant_errmsg(), "own files"),
        "the library is never a target: %s", hant_errmsg());
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out/lib.db-wal"), &f) == HANT_EINVAL, "nor its -wal, present or not");
  HANT_ASSERT(link(at("out/lib.db"), at("out/hardlink.db")) == 0);
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out/hardlink.db"), &f) == HANT_EINVAL, "nor another name of it");
  CHECK(resolve(p, me, HANT_PLACE_READ, at("models/../out/lib.db"), &f) == HANT_EINVAL, "nor read");
  CHECK(has(at("out/lib.db"), "library"), "the library is untouched");

  /* Links inside a place are not followed. */
  HANT_ASSERT(mkdir(at("secretdir"), 0700) == 0);
  put(at("secretdir/secret"), "secret");
  HANT_ASSERT(symlink(at("secretdir"), at("out/dirlink")) == 0);
  HANT_ASSERT(symlink(at("secretdir/secret"), at("out/filelink")) == 0);
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out/dirlink/secret"), &f) == HANT_EINVAL &&
            strstr(hant_errmsg(), "symbolic link"),
        "a linked directory is refused: %s", hant_errmsg());
  CHECK(resolve(p, me, HANT_PLACE_WRITE, at("out/filelink"), &f) == 0 &&
            hant_place_file_write(p, &f, "out", "new", 3) == 0,
        "a link at the file's name is replaced: %s", hant_errmsg());
  hant_place_file_close(&f);
  CHECK(lstat(at("out/filelink"), &st) == 0 && S_ISREG(st.st_mode) && has(at("secretdir/secret"), "secret"),
        "the link became a file; its target is untouched");
  HANT_ASSERT(symlink(at("secretdir/secret"), at("models/link.onnx")) == 0);
  CHECK(resolve(p, me, HANT_PLACE_READ, at("models/link.onnx"), &f) == 0, "a linked model resolves to its directory");
  CHECK(hant_place_file_open(p, &f, "model", &fd) == HANT_EINVAL && strstr(hant_errmsg(), "symbolic link"),
        "but is not opened: %s", hant_errmsg());
  hant_place_file_close(&f);

  /* A FIFO is refused at once, not waited on. */
  HANT_ASSERT(mkfifo(at("models/fifo.onnx"), 0600) == 0);
  double t0 = hant_now_s();
  CHECK(resolve(p, me, HANT_PLACE_READ, at("models/fifo.onnx"), &f) == 0 &&
            hant_place_file_open(p, &f, "model", &fd) == HANT_EINVAL && strstr(hant_errmsg(), "not a regular file") &&
            hant_now_s() - t0 < 1,
        "a FIFO is refused promptly: %s", hant_errmsg());
  hant_place_file_close(&f);

  /* Another peer, when this test may act for one. */
  if (me == 0) {
    uid_t other = 65534;
    CHECK(resolve(p, other, HANT_PLACE_WRITE, "n.onnx", &f) == 0 && hant_place_file_write(p, &f, "out", "n", 1) == 0,
          "written for uid %u: %s", (unsigned)other, hant_errmsg());
    CHECK(stat(f.path, &st) == 0 && st.st_uid == other && (st.st_mode & 0777) == 0600,
          "owned by uid %u, mode 0600: uid %u mode %o", (unsigned)other, (unsigned)st.st_uid, st.st_mode & 0777);
    hant_place_file_close(&f);
    snprintf(want, sizeof(want), "%s/users/%u", at("state/deep"), (unsigned)other);
    CHECK(stat(want, &st) == 0 && st.st_uid == other && (st.st_mode & 0777) == 0700,
          "its directory is its own, 0700: uid %u mode %o", (unsigned)st.st_uid, st.st_mode & 0777);
    /* A file the peer did not make, in its own directory, is not read for it. */
    snprintf(want, sizeof(want), "%s/users/%u/planted", at("state/deep"), (unsigned)other);
    put(want, "x");
    HANT_ASSERT(chown(want, 12345, 12345) == 0);
    CHECK(resolve(p, other, HANT_PLACE_READ, "planted", &f) == 0 && hant_place_file_open(p, &f, "model", &fd) ==
                                                                       HANT_EINVAL,
          "a stranger's file in the peer's directory: %s", hant_errmsg());
    hant_place_file_close(&f);
    /* A peer's directory is not another's. */
    snprintf(want, sizeof(want), "%s/users/%u/n.onnx", at("state/deep"), (unsigned)other);
    CHECK(resolve(p, 4242, HANT_PLACE_READ, want, &f) == HANT_EINVAL, "uid 4242 cannot name uid %u's file",
          (unsigned)other);
  } else {
    printf("(the checks of another peer's files are skipped: they need root to act for uid 65534)\n");
  }

  /* Stale temporaries are removed at start, and only they: a fresh one may
   * be another daemon's write in progress in a shared output directory. */
  snprintf(want, sizeof(want), "%s/users/%u/.x.onnx" HANT_ATOMIC_TMP_MARK "0123456789ab", at("state/deep"),
           (unsigned)me);
  put(want, "stale");
  put(at("out/.y.onnx" HANT_ATOMIC_TMP_MARK "0123456789ab"), "stale");
  put(at("out/.z.onnx" HANT_ATOMIC_TMP_MARK "0123456789ab"), "being written");
  struct timespec old[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
  CHECK(utimensat(AT_FDCWD, want, old, 0) == 0 &&
            utimensat(AT_FDCWD, at("out/.y.onnx" HANT_ATOMIC_TMP_MARK "0123456789ab"), old, 0) == 0,
        "aging the stale temporaries");
  int removed = -1;
  CHECK(hant_places_sweep(p, &removed) == 0 && removed == 2, "two stale temporaries removed: %d %s", removed,
        hant_errmsg());
  CHECK(access(want, F_OK) != 0 && has(at("out/lib.db"), "library"), "the temporaries went, the rest stayed");
  CHECK(has(at("out/.z.onnx" HANT_ATOMIC_TMP_MARK "0123456789ab"), "being written"),
        "a fresh temporary (a write in progress) stays");
  hant_places_close(p);

  /* The empty set refuses everything; bad configurations are refused. */
  CHECK(resolve(hant_places_none(), me, HANT_PLACE_WRITE, "x.onnx", &f) == HANT_EINVAL, "no places, no files");
  const char *bad[] = {at("state/deep/users")};
  CHECK(hant_places_open(at("state/deep"), bad, 1, NULL, 0, &p) == HANT_EINVAL,
        "an output directory over the peers' directories is refused: %s", hant_errmsg());
  const char *inside_jobs[] = {at("state/deep/jobs")};
  CHECK(hant_places_open(at("state/deep"), inside_jobs, 1, NULL, 0, &p) == HANT_EINVAL &&
            strstr(hant_errmsg(), "keeps what its jobs need"),
        "an output directory in the daemon's own jobs/ is refused: %s", hant_errmsg());
  CHECK(hant_places_open(at("state/deep"), NULL, 0, inside_jobs, 1, &p) == HANT_EINVAL,
        "a model directory there too: %s", hant_errmsg());
  /* jobs/ is the daemon's alone: a mode widened since is set back to 0700 */
  CHECK(chmod(at("state/deep/jobs"), 0755) == 0 && hant_places_open(at("state/deep"), NULL, 0, NULL, 0, &p) == 0 &&
            stat(at("state/deep/jobs"), &st) == 0 && (st.st_mode & 0777) == 0700,
        "jobs/ made 0700 again: %o %s", st.st_mode & 0777, hant_errmsg());
  hant_places_close(p);
  const char *rel[] = {"relative"};
  CHECK(hant_places_open(at("state/deep"), rel, 1, NULL, 0, &p) == HANT_EINVAL, "a relative output directory");
}

static void test_write_at(void) {
  int dir = open(at("tree/a"), O_PATH | O_DIRECTORY);
  HANT_ASSERT(dir >= 0);
  bool given = true;
  CHECK(hant_file_write_atomic_at(dir, "w.bin", "w.bin", "one", 3, 0600, (uid_t)-1, &given) == 0 && !given &&
            has(at("tree/a/w.bin"), "one"),
        "written in a directory by its descriptor: %s", hant_errmsg());
  CHECK(hant_file_write_atomic_at(dir, "b/w.bin", NULL, "x", 1, 0600, (uid_t)-1, NULL) == HANT_EINVAL,
        "a name with a '/' is refused");
  CHECK(hant_file_write_atomic_at(dir, "link-out", NULL, "x", 1, 0600, (uid_t)-1, NULL) == 0 &&
            has(at("secret"), "secret"),
        "a link at the name is replaced, its target untouched");
  close(dir);
}

int main(void) {
  HANT_ASSERT(mkdtemp(T));
  HANT_ASSERT(mkdir(at("tree"), 0700) == 0 && mkdir(at("tree/a"), 0700) == 0 && mkdir(at("tree/a/b"), 0700) == 0);
  HANT_ASSERT(mkdir(at("out"), 0700) == 0 && mkdir(at("models"), 0700) == 0);
  put(at("tree/a/b/file"), "file");
  put(at("secret"), "secret");
  HANT_ASSERT(symlink(at("secret"), at("tree/a/link-out")) == 0);
  HANT_ASSERT(symlink(at("tree/a/b"), at("tree/a/dirlink")) == 0);
  HANT_ASSERT(mkfifo(at("tree/a/fifo"), 0600) == 0);
  test_open_beneath(false);
  test_open_beneath(true);
  test_places();
  test_write_at();
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T);
  if (system(cmd)) {
  }
  return test_summary("place");
}
