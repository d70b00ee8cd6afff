/* SPDX-License-Identifier: MIT */
/* test_atomicfile.c: atomic writes replace entries, never follow links, and leave no temporary behind. */
#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hant.h"
#include "test_util.h"

static int count_temps(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += hant_file_is_atomic_temp(e->d_name);
  if (d)
    closedir(d);
  return n;
}

static bool file_is(const char *path, const char *want) {
  char buf[64] = {0};
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
  if (f)
    fclose(f);
  return n == strlen(want) && !memcmp(buf, want, n);
}

int main(void) {
  char dir[] = "/tmp/hant-atomicXXXXXX", out[256], secret[256], link_path[256];
  HANT_ASSERT(mkdtemp(dir));
  snprintf(out, sizeof(out), "%s/out.bin", dir);
  snprintf(secret, sizeof(secret), "%s/secret", dir);
  snprintf(link_path, sizeof(link_path), "%s/link.bin", dir);

  CHECK(hant_file_write_atomic(out, "one", 3) == 0 && file_is(out, "one"), "writes a new file");
  CHECK(hant_file_write_atomic(out, "two", 3) == 0 && file_is(out, "two"), "replaces it whole");
  struct stat st;
  CHECK(stat(out, &st) == 0 && (st.st_mode & 0777) == 0644, "default mode 0644, got %o", st.st_mode & 0777);
  CHECK(hant_file_write_atomic_mode(out, "three", 5, 0600) == 0 && stat(out, &st) == 0 && (st.st_mode & 0777) == 0600,
        "mode 0600 when asked, got %o", st.st_mode & 0777);

  /* A link at the destination is replaced; what it pointed to is untouched. */
  FILE *f = fopen(secret, "wb");
  fputs("keep", f);
  fclose(f);
  HANT_ASSERT(symlink(secret, link_path) == 0);
  CHECK(hant_file_write_atomic(link_path, "new", 3) == 0, "writes over a link");
  CHECK(lstat(link_path, &st) == 0 && S_ISREG(st.st_mode), "the link became a regular file");
  CHECK(file_is(secret, "keep"), "the link's target is untouched");

  /* A failed write (the directory is gone) names the file and leaves nothing. */
  char missing[300];
  snprintf(missing, sizeof(missing), "%s/no-such-dir/x", dir);
  CHECK(hant_file_write_atomic(missing, "x", 1) == HANT_EIO && strstr(hant_errmsg(), missing),
        "a missing directory is an error naming the file: %s", hant_errmsg());
  CHECK(count_temps(dir) == 0, "no temporary file is left behind");

  CHECK(hant_file_is_atomic_temp(".out.bin.tmp-0123456789ab") && !hant_file_is_atomic_temp("out.bin") &&
            !hant_file_is_atomic_temp("out.tmp-1"),
        "temporary names are recognised");

  unlink(out);
  unlink(link_path);
  unlink(secret);
  rmdir(dir);
  return test_summary("atomicfile");
}
