/* SPDX-License-Identifier: MIT */
/* place.c: hantd's places (the peer's own directory, output and model directories) and paths resolved beneath them without links. */
#include "place.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2_H 1
#endif
#endif

#include "atomicfile.h"
#include "base.h"

/* ---- opening beneath a directory ---------------------------------------------------- */

static atomic_bool walk_only;   /* tests: the fallback even where openat2 exists */
static atomic_bool no_openat2;  /* the kernel said ENOSYS once: do not ask again */

void hant__path_walk_only(bool on) { atomic_store(&walk_only, on); }

/* The next component of *s, skipping empty ones and ".": its start and
 * length in *len, or NULL at the end. */
static const char *next_comp(const char **s, size_t *len) {
  for (;;) {
    while (**s == '/')
      (*s)++;
    if (!**s)
      return NULL;
    const char *c = *s;
    size_t n = strcspn(c, "/");
    *s = c + n;
    if (n == 1 && c[0] == '.')
      continue;
    *len = n;
    return c;
  }
}

/* One component at a time: each directory on the way is opened with
 * O_PATH | O_NOFOLLOW and checked to be a directory, not a link, and the
 * last is opened with O_NOFOLLOW. Nothing between two opens is looked up
 * by name again, so a link swapped in meanwhile is never followed. */
static int walk(int dir_fd, const char *rel, int flags, unsigned mode) {
  int cur = dir_fd, rc = 0;
  const char *s = rel, *c;
  size_t n;
  char comp[NAME_MAX + 1] = ".";
  c = next_comp(&s, &n);
  while (c) {
    if (n > NAME_MAX) {
      rc = -ENAMETOOLONG;
      break;
    }
    memcpy(comp, c, n);
    comp[n] = '\0';
    const char *after = s;
    size_t n2;
    if (!next_comp(&after, &n2))
      break; /* comp is the last component */
    int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (next < 0) {
      rc = -errno;
    } else if (fstat(next, &st)) {
      rc = -errno;
    } else if (S_ISLNK(st.st_mode)) {
      rc = -ELOOP;
    } else if (!S_ISDIR(st.st_mode)) {
      rc = -ENOTDIR;
    }
    if (rc) {
      if (next >= 0)
        close(next);
      break;
    }
    if (cur != dir_fd)
      close(cur);
    cur = next;
    c = next_comp(&s, &n);
  }
  if (!rc) {
    int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    rc = fd >= 0 ? fd : -errno;
    struct stat st;
    if (fd >= 0 && (flags & O_PATH) && !fstat(fd, &st) && S_ISLNK(st.st_mode)) {
      close(fd);
      rc = -ELOOP; /* O_PATH | O_NOFOLLOW opens a link itself */
    } else if (rc == -ENOTDIR && !fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode)) {
      rc = -ELOOP; /* O_DIRECTORY on a link */
    }
  }
  if (cur != dir_fd)
    close(cur);
  return rc;
}

int hant_path_open_beneath(int dir_fd, const char *rel, int flags, unsigned mode) {
  if (!rel || rel[0] == '/')
    return -EXDEV;
  /* ".." is refused by its text, before any look-up: openat2 would allow
   * one that stays beneath, and a place has no business with either. */
  const char *s = rel, *c;
  size_t n;
  while ((c = next_comp(&s, &n)))
    if (n == 2 && c[0] == '.' && c[1] == '.')
      return -EXDEV;
#if defined(HAVE_OPENAT2_H) && defined(SYS_openat2)
  if (!atomic_load(&walk_only) && !atomic_load(&no_openat2)) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dir_fd, rel, &how, sizeof(how));
    if (fd >= 0)
      return (int)fd;
    if (errno != ENOSYS)
      return -errno;
    atomic_store(&no_openat2, true);
  }
#endif
  return walk(dir_fd, rel, flags, mode);
}

/* ---- the set ------------------------------------------------------------------------ */

#define MAX_FORBIDDEN 16

typedef struct dir_place {
  char path[1024]; /* as configured, normalised */
  char real[1024]; /* the same through realpath, so either spelling matches */
  int fd;          /* O_PATH */
} dir_place;

typedef struct forbidden {
  char path[1024];
  char name[256];
  bool has_dir; /* the directory existed when forbidden */
  dev_t dir_dev;
  ino_t dir_ino;
} forbidden;

struct hant_places {
  bool none;
  char state[1024], state_real[1024];
  char jobs[1100];                 /* STATE/jobs */
  int state_fd, users_fd, jobs_fd; /* O_RDONLY directories */
  dir_place dirs[HANT_PLACE_USE_COUNT][HANT_PLACES_MAX_DIRS];
  int n_dirs[HANT_PLACE_USE_COUNT];
  forbidden forbid[MAX_FORBIDDEN];
  int n_forbid;
};

static const hant_places none_set = {.none = true, .state_fd = -1, .users_fd = -1, .jobs_fd = -1};

const hant_places *hant_places_none(void) { return &none_set; }

const char *hant_places_state_dir(const hant_places *p) { return p->none ? "" : p->state; }

const char *hant_places_jobs_dir(const hant_places *p) { return p->none ? "" : p->jobs; }

/* A path fit for a message: printable ASCII, at most about 160 bytes. */
static const char *shown(const char *s, char *buf, size_t n) {
  size_t o = 0;
  for (; *s && o + 4 < n && o < 160; s++)
    buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
  if (*s && o + 4 < n) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}

/* Normalises an absolute or relative path by its text: no empty or "."
 * components, no trailing slash. False when it has a ".." component or
 * does not fit. */
static bool normalise(const char *in, char *out, size_t n) {
  size_t o = 0;
  if (in[0] == '/')
    out[o++] = '/';
  const char *s = in, *c;
  size_t len;
  bool first = true;
  while ((c = next_comp(&s, &len))) {
    if (len == 2 && c[0] == '.' && c[1] == '.')
      return false;
    if (o + len + 2 > n)
      return false;
    if (!first || (o && out[o - 1] != '/'))
      out[o++] = '/';
    memcpy(out + o, c, len);
    o += len;
    first = false;
  }
  out[o] = '\0';
  return true;
}

static bool has_dotdot(const char *path) {
  const char *s = path, *c;
  size_t n;
  while ((c = next_comp(&s, &n)))
    if (n == 2 && c[0] == '.' && c[1] == '.')
      return true;
  return false;
}

/* Creates dir and its missing parents; parents get 0700, dir `mode`.
 * Sets *made when dir itself was created here. */
static int make_dirs(const char *dir, unsigned mode, bool *made) {
  struct stat st;
  if (stat(dir, &st) == 0)
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
  char parent[1024];
  snprintf(parent, sizeof(parent), "%s", dir);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    bool ignored;
    int rc = make_dirs(parent, 0700, &ignored);
    if (rc)
      return rc;
  }
  if (mkdir(dir, (mode_t)mode) == 0)
    *made = true;
  else if (errno != EEXIST)
    return -errno;
  return 0;
}

/* True when a lies beneath b or is b, by their text (both normalised). */
static bool within(const char *a, const char *b) {
  size_t n = strlen(b);
  if (n == 1)
    return true; /* "/" */
  return !strncmp(a, b, n) && (a[n] == '/' || a[n] == '\0');
}

/* The directories of the state directory that no place may hold or lie
 * inside: STATE/users, where a place would let one peer name another's
 * files, and STATE/jobs, where it would let a peer plant or read what the
 * daemon keeps for another's job. Each by its name and its real path. */
typedef struct kept_dirs {
  const char *path[4];
  const char *why[4];
} kept_dirs;

static int open_dir_place(dir_place *d, const char *what, const char *path, const kept_dirs *kept) {
  if (path[0] != '/' || !normalise(path, d->path, sizeof(d->path)))
    return hant__error(HANT_EINVAL, "%s: '%s': expected an absolute path without '..'", what, path);
  d->fd = open(d->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d->fd < 0)
    return hant__error(HANT_EIO, "%s: %s: %s", what, d->path, strerror(errno));
  if (!realpath(d->path, d->real))
    snprintf(d->real, sizeof(d->real), "%s", d->path);
  for (int k = 0; k < 4; k++) {
    const char *u = kept->path[k];
    if (within(u, d->path) || within(u, d->real) || within(d->path, u) || within(d->real, u))
      return hant__error(HANT_EINVAL, "%s: %s: holds or lies inside %s, %s", what, d->path, kept->path[k & ~1],
                         kept->why[k]);
  }
  return 0;
}

/* Opens STATE/name, made with mode when absent: a directory, not a link,
 * owned by the daemon. One made here gets mode whatever the umask; one
 * that existed keeps its mode unless tighten, which sets it. */
static int own_subdir(hant_places *p, const char *name, unsigned mode, bool tighten, int *fd) {
  bool made = mkdirat(p->state_fd, name, mode) == 0;
  if (!made && errno != EEXIST)
    return hant__error(HANT_EIO, "state directory: cannot create %s/%s: %s", p->state, name, strerror(errno));
  *fd = openat(p->state_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (*fd < 0 || fstat(*fd, &st))
    return hant__error(HANT_EIO, "state directory: %s/%s: %s (expected a directory, not a link)", p->state, name,
                       strerror(errno));
  if (st.st_uid != geteuid())
    return hant__error(HANT_EIO, "state directory: %s/%s is owned by uid %u, not by the daemon (uid %u)", p->state,
                       name, (unsigned)st.st_uid, (unsigned)geteuid());
  if ((made || (tighten && (st.st_mode & 07777) != mode)) && fchmod(*fd, mode)) {
    int e = errno;
    if (tighten)
      return hant__error(HANT_EIO, "state directory: %s/%s: chmod %o: %s", p->state, name, mode, strerror(e));
    hant__error(HANT_EIO, "state directory: %s/%s: chmod: %s", p->state, name, strerror(e));
  }
  return 0;
}

int hant_places_open(const char *state_dir, const char *const *output_dirs, int n_output,
                     const char *const *model_dirs, int n_model, hant_places **out) {
  *out = NULL;
  if (!state_dir || state_dir[0] != '/')
    return hant__error(HANT_EINVAL, "state directory: '%s': expected an absolute path", state_dir ? state_dir : "");
  if (n_output < 0 || n_output > HANT_PLACES_MAX_DIRS || n_model < 0 || n_model > HANT_PLACES_MAX_DIRS)
    return hant__error(HANT_EINVAL, "places: at most %d output and %d model directories", HANT_PLACES_MAX_DIRS,
                       HANT_PLACES_MAX_DIRS);
  hant_places *p = calloc(1, sizeof(*p));
  if (!p)
    return HANT_ENOMEM;
  p->state_fd = p->users_fd = p->jobs_fd = -1;
  for (int u = 0; u < HANT_PLACE_USE_COUNT; u++)
    for (int i = 0; i < HANT_PLACES_MAX_DIRS; i++)
      p->dirs[u][i].fd = -1;
  int rc = 0;
  bool made = false;
  if (!normalise(state_dir, p->state, sizeof(p->state)) || strlen(p->state) > 900) {
    rc = hant__error(HANT_EINVAL, "state directory: '%s': expected an absolute path without '..'", state_dir);
    goto fail;
  }
  if ((rc = make_dirs(p->state, 0711, &made))) {
    rc = hant__error(HANT_EIO, "state directory: cannot create %s: %s", p->state, strerror(-rc));
    goto fail;
  }
  if ((p->state_fd = open(p->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
    rc = hant__error(HANT_EIO, "state directory: %s: %s", p->state, strerror(errno));
    goto fail;
  }
  /* Made here: 0711 whatever the umask, so that peers reach their own
   * directories below it. One that existed keeps the mode it was given. */
  if (made && fchmod(p->state_fd, 0711))
    hant__error(HANT_EIO, "state directory: %s: chmod: %s", p->state, strerror(errno));
  if (!realpath(p->state, p->state_real))
    snprintf(p->state_real, sizeof(p->state_real), "%s", p->state);
  /* users: each peer's directory below it, reached by name (0711);
   * jobs: what the daemon keeps for jobs in progress, its alone (0700) */
  if ((rc = own_subdir(p, "users", 0711, false, &p->users_fd)) || (rc = own_subdir(p, "jobs", 0700, true, &p->jobs_fd)))
    goto fail;
  char users[1100], users_real[1100], jobs_real[1100];
  snprintf(users, sizeof(users), "%s/users", p->state);
  snprintf(users_real, sizeof(users_real), "%s/users", p->state_real);
  snprintf(p->jobs, sizeof(p->jobs), "%s/jobs", p->state);
  snprintf(jobs_real, sizeof(jobs_real), "%s/jobs", p->state_real);
  static const char each_peer[] = "where each peer has its own directory",
                    daemons[] = "where the daemon keeps what its jobs need";
  kept_dirs kept = {{users, users_real, p->jobs, jobs_real}, {each_peer, each_peer, daemons, daemons}};
  for (int i = 0; i < n_output && !rc; i++)
    rc = open_dir_place(&p->dirs[HANT_PLACE_WRITE][p->n_dirs[HANT_PLACE_WRITE]++], "output_dirs", output_dirs[i],
                        &kept);
  for (int i = 0; i < n_model && !rc; i++)
    rc = open_dir_place(&p->dirs[HANT_PLACE_READ][p->n_dirs[HANT_PLACE_READ]++], "model_dirs", model_dirs[i], &kept);
  if (rc)
    goto fail;
  hant_errmsg_clear();
  *out = p;
  return 0;
fail:
  hant_places_close(p);
  return rc;
}

void hant_places_close(hant_places *p) {
  if (!p || p->none)
    return;
  if (p->state_fd >= 0)
    close(p->state_fd);
  if (p->users_fd >= 0)
    close(p->users_fd);
  if (p->jobs_fd >= 0)
    close(p->jobs_fd);
  for (int u = 0; u < HANT_PLACE_USE_COUNT; u++)
    for (int i = 0; i < HANT_PLACES_MAX_DIRS; i++)
      if (p->dirs[u][i].fd >= 0)
        close(p->dirs[u][i].fd);
  free(p);
}

/* ---- forbidden files ------------------------------------------------------------------ */

int hant_places_forbid(hant_places *p, const char *path) {
  if (p->none || !path || path[0] != '/')
    return hant__error(HANT_EINVAL, "forbidden file: '%s': expected an absolute path", path ? path : "");
  if (p->n_forbid == MAX_FORBIDDEN)
    return hant__error(HANT_ELIMIT, "forbidden file: %s: more than %d", path, MAX_FORBIDDEN);
  forbidden *f = &p->forbid[p->n_forbid];
  memset(f, 0, sizeof(*f));
  if (!normalise(path, f->path, sizeof(f->path)))
    return hant__error(HANT_EINVAL, "forbidden file: '%s': expected an absolute path without '..'", path);
  const char *slash = strrchr(f->path, '/');
  snprintf(f->name, sizeof(f->name), "%s", slash + 1);
  char dir[1024];
  snprintf(dir, sizeof(dir), "%.*s", slash == f->path ? 1 : (int)(slash - f->path), f->path);
  struct stat st;
  if (stat(dir, &st) == 0) {
    f->has_dir = true;
    f->dir_dev = st.st_dev;
    f->dir_ino = st.st_ino;
  }
  p->n_forbid++;
  return 0;
}

/* The file st is one of the forbidden ones, looked up now: -wal and -shm
 * files come and go, and the socket is bound after start-up. */
static bool forbidden_file(const hant_places *p, const struct stat *st) {
  for (int i = 0; i < p->n_forbid; i++) {
    struct stat f;
    if (lstat(p->forbid[i].path, &f) == 0 && f.st_dev == st->st_dev && f.st_ino == st->st_ino)
      return true;
  }
  return false;
}

/* The entry name of directory dir_fd is, or would be, a forbidden file. */
static bool forbidden_entry(const hant_places *p, int dir_fd, const char *name) {
  struct stat d, st;
  if (fstat(dir_fd, &d) == 0)
    for (int i = 0; i < p->n_forbid; i++) {
      const forbidden *f = &p->forbid[i];
      if (f->has_dir && f->dir_dev == d.st_dev && f->dir_ino == d.st_ino && !strcmp(f->name, name))
        return true;
    }
  return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && forbidden_file(p, &st);
}

/* ---- stale temporaries ------------------------------------------------------------------ */

/* A temporary younger than this may be a write in progress, by this
 * daemon's runner before a crash or by another daemon that shares an
 * output directory: a write keeps its file's mtime fresh, so only an old
 * temporary is one nobody will rename. */
#define STALE_TEMP_S 600

static int sweep_dir(int dir_fd, const char *label, int *removed) {
  int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return hant__error(HANT_EIO, "%s: cannot list it to remove stale temporaries (%s)", label, strerror(e));
  }
  int rc = 0;
  time_t now = time(NULL);
  for (struct dirent *e; (e = readdir(d));) {
    struct stat st;
    if (!hant_file_is_atomic_temp(e->d_name) || fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
        !S_ISREG(st.st_mode) || now - st.st_mtime < STALE_TEMP_S)
      continue;
    if (unlinkat(fd, e->d_name, 0) == 0)
      (*removed)++;
    else
      rc = hant__error(HANT_EIO, "%s/%s: cannot remove a stale temporary (%s)", label, e->d_name, strerror(errno));
  }
  closedir(d);
  return rc;
}

int hant_places_sweep(hant_places *p, int *removed) {
  int n = 0, rc = 0, r;
  if (p->none)
    goto out;
  if ((r = sweep_dir(p->state_fd, p->state, &n)) || (r = sweep_dir(p->jobs_fd, p->jobs, &n)))
    rc = r;
  int fd = openat(p->users_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d && fd >= 0)
    close(fd);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!e->d_name[0] || strspn(e->d_name, "0123456789") != strlen(e->d_name))
      continue;
    int u = openat(fd, e->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (u < 0)
      continue;
    char label[1200];
    snprintf(label, sizeof(label), "%s/users/%s", p->state, e->d_name);
    if ((r = sweep_dir(u, label, &n)))
      rc = r;
    close(u);
  }
  if (d)
    closedir(d);
  for (int i = 0; i < p->n_dirs[HANT_PLACE_WRITE]; i++)
    if ((r = sweep_dir(p->dirs[HANT_PLACE_WRITE][i].fd, p->dirs[HANT_PLACE_WRITE][i].path, &n)))
      rc = r;
out:
  if (removed)
    *removed = n;
  return rc;
}

/* ---- the peer's own directory -------------------------------------------------------- */

/* Opens STATE/users/UID, making it on first use (see place.h for its owner
 * and mode). *fd is the caller's. */
static int own_dir(const hant_places *p, uid_t uid, const char *field, int *fd) {
  char name[24];
  snprintf(name, sizeof(name), "%u", (unsigned)uid);
  uid_t me = geteuid();
  struct stat st;
  if (mkdirat(p->users_fd, name, 0700) == 0) {
    /* New, and ours until settled: nobody else can enter a 0700 directory
     * of ours, so nothing can be planted before it is handed over. */
    int d = openat(p->users_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0 || fstat(d, &st) || st.st_uid != me || fchmod(d, 0700)) {
      int e = errno;
      if (d >= 0)
        close(d);
      return hant__error(HANT_EIO, "%s: cannot set up %s/users/%s (%s)", field, p->state, name, strerror(e));
    }
    if (uid != me) {
      /* The peer may own its directory only if the daemon can still use
       * it afterwards: root can, a daemon with only CAP_CHOWN cannot. */
      bool given = fchown(d, uid, (gid_t)-1) == 0;
      if (given && faccessat(p->users_fd, name, X_OK | W_OK, AT_EACCESS) != 0) {
        given = false;
        if (fchown(d, me, (gid_t)-1)) {
          int e = errno;
          close(d);
          return hant__error(HANT_EIO, "%s: cannot take back %s/users/%s (%s)", field, p->state, name, strerror(e));
        }
      }
      if (!given && fchmod(d, 0711)) {
        int e = errno;
        close(d);
        return hant__error(HANT_EIO, "%s: cannot set up %s/users/%s (%s)", field, p->state, name, strerror(e));
      }
    }
    *fd = d;
    return 0;
  }
  if (errno != EEXIST)
    return hant__error(HANT_EIO, "%s: cannot create %s/users/%s (%s)", field, p->state, name, strerror(errno));
  int d = openat(p->users_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d < 0)
    return hant__error(HANT_EIO, "%s: %s/users/%s: %s (expected a directory, not a link)", field, p->state, name,
                       strerror(errno));
  if (fstat(d, &st) || (st.st_uid != uid && st.st_uid != me)) {
    close(d);
    return hant__error(HANT_EIO, "%s: %s/users/%s is owned by uid %u, neither by uid %s nor by the daemon", field,
                       p->state, name, (unsigned)st.st_uid, name);
  }
  *fd = d;
  return 0;
}

/* ---- resolving ---------------------------------------------------------------------------- */

void hant_place_file_init(hant_place_file *f) {
  memset(f, 0, sizeof(*f));
  f->dir_fd = -1;
}

void hant_place_file_close(hant_place_file *f) {
  if (f->dir_fd >= 0)
    close(f->dir_fd);
  f->dir_fd = -1;
}

static const char *const use_verb[HANT_PLACE_USE_COUNT] = {"writes", "reads"};

/* "A, B, C": the places of uid for use, for messages. */
static void list_places(const hant_places *p, uid_t uid, hant_place_use use, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = '\0';
  if (p->none) {
    snprintf(buf, n, "none: this server has no places");
    return;
  }
  o += (size_t)snprintf(buf, n, "%s/users/%u", p->state, (unsigned)uid);
  for (int i = 0; i < p->n_dirs[use] && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, ", %s", p->dirs[use][i].path);
}

/* The text after place when path lies beneath it, else NULL. */
static const char *beneath(const char *path, const char *place) {
  size_t n = strlen(place);
  if (n && !strncmp(path, place, n) && path[n] == '/' && path[n + 1])
    return path + n + 1;
  return NULL;
}

int hant_places_resolve(const hant_places *p, uid_t uid, hant_place_use use, const char *field, const char *path,
                        hant_place_file *f) {
  hant_place_file_init(f);
  f->uid = uid;
  if ((unsigned)use >= HANT_PLACE_USE_COUNT)
    return hant__error(HANT_EINVAL, "%s: unknown use %d", field, (int)use);
  char s[200], list[2048], norm[1024];
  if (!path || !path[0])
    return hant__error(HANT_EINVAL, "%s: empty; expected a file name or an absolute path", field);
  shown(path, s, sizeof(s));
  list_places(p, uid, use, list, sizeof(list));
  if (has_dotdot(path))
    return hant__error(HANT_EINVAL, "%s: '%s' has a '..' component; name a file beneath the directories hantd %s for "
                       "uid %u (%s)", field, s, use_verb[use], (unsigned)uid, list);
  if (!normalise(path, norm, sizeof(norm)))
    return hant__error(HANT_EINVAL, "%s: '%s' is too long", field, s);
  /* Which place, by the text alone: nothing outside the places is looked at. */
  char own_path[1100], own_real[1100];
  const char *rel = NULL, *base_path = NULL;
  int base_fd = -1;
  bool own = false;
  if (!p->none) {
    snprintf(own_path, sizeof(own_path), "%s/users/%u", p->state, (unsigned)uid);
    snprintf(own_real, sizeof(own_real), "%s/users/%u", p->state_real, (unsigned)uid);
    if (norm[0] != '/') {
      rel = norm[0] ? norm : NULL;
      own = rel != NULL;
    } else if ((rel = beneath(norm, own_path)) || (rel = beneath(norm, own_real))) {
      own = true;
    } else {
      for (int i = 0; i < p->n_dirs[use] && !rel; i++) {
        const dir_place *d = &p->dirs[use][i];
        if ((rel = beneath(norm, d->path)) || (rel = beneath(norm, d->real))) {
          base_path = d->path;
          base_fd = d->fd;
        }
      }
    }
  }
  if (!rel) {
    bool is_place = !p->none && norm[0] == '/' && (!strcmp(norm, own_path) || !strcmp(norm, own_real));
    for (int i = 0; !p->none && i < p->n_dirs[use]; i++)
      is_place |= !strcmp(norm, p->dirs[use][i].path) || !strcmp(norm, p->dirs[use][i].real);
    if (is_place)
      return hant__error(HANT_EINVAL, "%s: '%s' is a directory; expected a file beneath it", field, s);
    if (norm[0] == '/' || p->none)
      return hant__error(HANT_EINVAL, "%s: '%s' is outside the directories hantd %s for uid %u (%s)", field, s,
                         use_verb[use], (unsigned)uid, list);
    return hant__error(HANT_EINVAL, "%s: '%s' names no file", field, s);
  }
  if (own)
    base_path = own_path;
  int n = snprintf(f->path, sizeof(f->path), "%s/%s", base_path, rel);
  const char *slash = strrchr(rel, '/');
  const char *name = slash ? slash + 1 : rel;
  if (n < 0 || (size_t)n >= sizeof(f->path) || strlen(name) > NAME_MAX)
    return hant__error(HANT_EINVAL, "%s: '%s' is too long", field, s);
  int rc = 0;
  if (own && (rc = own_dir(p, uid, field, &base_fd)))
    return rc;
  char dir[1024];
  snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - rel) : 1, slash ? rel : ".");
  int d = hant_path_open_beneath(base_fd, dir, O_PATH | O_DIRECTORY, 0);
  if (own)
    close(base_fd);
  if (d < 0) {
    switch (-d) {
    case ELOOP:
      return hant__error(HANT_EINVAL, "%s: '%s' goes through a symbolic link; hantd follows none in its places", field,
                         s);
    case ENOENT: return hant__error(HANT_ENOENT, "%s: '%s': no such directory", field, s);
    case ENOTDIR: return hant__error(HANT_EINVAL, "%s: '%s': a component is not a directory", field, s);
    default: return hant__error(HANT_EIO, "%s: '%s': %s", field, s, strerror(-d));
    }
  }
  if (use == HANT_PLACE_WRITE) {
    struct stat st;
    if (forbidden_entry(p, d, name))
      rc = hant__error(HANT_EINVAL, "%s: '%s' is one of hantd's own files (its library or its socket); hantd never "
                       "writes it for a request", field, s);
    else if (fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      rc = hant__error(HANT_EINVAL, "%s: '%s' is a directory; expected a file name", field, s);
    if (rc) {
      close(d);
      return rc;
    }
  }
  f->dir_fd = d;
  f->own = own;
  snprintf(f->name, sizeof(f->name), "%s", name);
  return 0;
}

/* The message of a failed open of a resolved file. */
static int open_error(const hant_place_file *f, const char *field, int err, const char *what) {
  char s[200];
  shown(f->path, s, sizeof(s));
  switch (err) {
  case ELOOP: return hant__error(HANT_EINVAL, "%s: '%s' is a symbolic link; hantd follows none in its places", field, s);
  case ENOENT: return hant__error(HANT_ENOENT, "%s: '%s': no such %s", field, s, what);
  case ENOTDIR: return hant__error(HANT_EINVAL, "%s: '%s' is not a %s", field, s, what);
  default: return hant__error(HANT_EIO, "%s: '%s': %s", field, s, strerror(err));
  }
}

int hant_place_file_open(const hant_places *p, const hant_place_file *f, const char *field, int *fd) {
  *fd = -1;
  if (f->dir_fd < 0)
    return hant__error(HANT_EINVAL, "%s: not resolved", field);
  int r = hant_path_open_beneath(f->dir_fd, f->name, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
  if (r < 0)
    return open_error(f, field, -r, "file");
  char s[200];
  shown(f->path, s, sizeof(s));
  struct stat st;
  int rc = 0;
  if (fstat(r, &st))
    rc = hant__error(HANT_EIO, "%s: '%s': %s", field, s, strerror(errno));
  else if (!S_ISREG(st.st_mode))
    rc = hant__error(HANT_EINVAL, "%s: '%s' is not a regular file", field, s);
  else if (forbidden_file(p, &st))
    rc = hant__error(HANT_EINVAL, "%s: '%s' is one of hantd's own files (its library or its socket); hantd never "
                     "reads it for a request", field, s);
  /* In a directory the peer owns, a file the peer did not make could be
   * a hard link to someone else's: only the peer's and the daemon's own
   * (single-linked) files are read there. */
  else if (f->own && st.st_uid != f->uid && !(st.st_uid == geteuid() && st.st_nlink == 1))
    rc = hant__error(HANT_EINVAL, "%s: '%s' is owned by neither uid %u nor hantd", field, s, (unsigned)f->uid);
  if (rc) {
    close(r);
    return rc;
  }
  *fd = r;
  return 0;
}

int hant_place_file_open_dir(const hant_places *p, const hant_place_file *f, const char *field, int *fd) {
  (void)p;
  *fd = -1;
  if (f->dir_fd < 0)
    return hant__error(HANT_EINVAL, "%s: not resolved", field);
  int r = hant_path_open_beneath(f->dir_fd, f->name, O_PATH | O_DIRECTORY, 0);
  if (r < 0)
    return open_error(f, field, -r, "directory");
  *fd = r;
  return 0;
}

int hant_place_file_write(const hant_places *p, const hant_place_file *f, const char *field, const void *data,
                          size_t len) {
  if (f->dir_fd < 0)
    return hant__error(HANT_EINVAL, "%s: not resolved", field);
  if (forbidden_entry(p, f->dir_fd, f->name)) {
    char s[200];
    return hant__error(HANT_EINVAL, "%s: '%s' is one of hantd's own files (its library or its socket); hantd never "
                       "writes it for a request", field, shown(f->path, s, sizeof(s)));
  }
  return hant_file_write_atomic_at(f->dir_fd, f->name, f->path, data, len, 0600, f->uid, NULL);
}
