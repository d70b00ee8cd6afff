/* SPDX-License-Identifier: MIT */
/* place.h: the directories hantd writes and reads for its peers, and paths resolved beneath them without following links. */
#ifndef HANT_PLACE_H
#define HANT_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- opening beneath a directory ------------------------------------------ */

/* Opens rel, a relative path, beneath the open directory dir_fd as
 * openat(2) would with flags and mode, except that no component of rel may
 * be a symbolic link (magic links included), "..", or absolute: what is
 * opened always lies beneath dir_fd, whatever links the tree holds. It uses
 * openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
 * and, where the kernel has no openat2 (ENOSYS), opens one component at a
 * time with O_NOFOLLOW. O_CLOEXEC is always added. Returns the new
 * descriptor, or a negative errno as the system calls report it: -ELOOP
 * for a link, -EXDEV for ".." or an absolute rel, -ENOENT, -ENOTDIR,
 * -EACCES and so on. It records no error message: callers word their own,
 * and so decide what a message may reveal. */
int hant_path_open_beneath(int dir_fd, const char *rel, int flags, unsigned mode);

/* For tests of the fallback only: with on, hant_path_open_beneath walks one
 * component at a time even where openat2 exists. Not thread-safe. */
void hant__path_walk_only(bool on);

/* ---- the daemon's places ---------------------------------------------------- */

/*
 * A peer of hantd names files in requests: the ONNX file a transform
 * writes (`out`), the model an eval job reads (`model`) and the directory
 * of its images (`data`). The daemon may write or read such a file only
 * beneath its places:
 *
 *  - the peer's own directory STATE/users/UID, created on first use, where
 *    a relative name is resolved;
 *  - the administrator's output directories (written) and model
 *    directories (read), named by absolute paths.
 *
 * A path is matched against the places by its text first, with no look at
 * the file system outside them, so that a refusal tells nothing about what
 * lies outside. Within a place it is resolved with
 * hant_path_open_beneath: no link is followed and no ".." accepted. Files
 * the daemon must never write or read (its library, the socket, their
 * companions) are refused even inside a place (hant_places_forbid).
 *
 * Files written are mode 0600, owned by the peer when the daemon can give
 * them away (root or CAP_CHOWN), else by the daemon. The peer's own
 * directory is owned by the peer, mode 0700, when the daemon can still
 * reach a directory it does not own (root); otherwise the daemon keeps it,
 * mode 0711, so that the peer reaches its files by name but lists nothing.
 * The state directory and STATE/users are made mode 0711. STATE/jobs,
 * mode 0700 and the daemon's alone, keeps what a job in progress needs
 * to resume after a restart (its fine-tuning's checkpoints); no place may
 * hold or lie inside it, so no request reaches a file there.
 *
 * A set is built once at start-up (hant_places_open, hant_places_forbid,
 * hant_places_sweep) and then only read, from any number of threads.
 */

typedef struct hant_places hant_places;

typedef enum hant_place_use {
  HANT_PLACE_WRITE, /* the peer's own directory and the output directories */
  HANT_PLACE_READ,  /* the peer's own directory and the model directories */
  HANT_PLACE_USE_COUNT
} hant_place_use;

/* At most this many output directories and as many model directories. */
#define HANT_PLACES_MAX_DIRS 16

/* Opens the places: state_dir (absolute; created with its missing parents
 * when absent, the directory itself and its users/ mode 0711), and the
 * n_output output directories and n_model model directories (absolute,
 * existing; none may contain STATE/users or lie inside it). Each directory
 * is opened once and used through its descriptor from then on. On success
 * *out is a new set (hant_places_close); errors name the directory.
 * HANT_EINVAL for a relative path or too many directories, HANT_EIO when a
 * directory cannot be made or opened. */
int hant_places_open(const char *state_dir, const char *const *output_dirs, int n_output,
                     const char *const *model_dirs, int n_model, hant_places **out);
/* Closes every descriptor and frees the set. NULL is a no-op. */
void hant_places_close(hant_places *p);

/* A set with no place at all, which refuses every path: what a server that
 * set up none answers with. Static; never closed. */
const hant_places *hant_places_none(void);

/* Never lets a request name the file at path (absolute), by its directory
 * and name, and by the file itself whenever it exists, so that another
 * name of it (a hard link, a path through a linked directory) is refused
 * too. For the library, its -wal, -shm and -journal files, the socket and
 * its lock. Call before the set is shared between threads. */
int hant_places_forbid(hant_places *p, const char *path);

/* Removes what a crash left behind: regular files whose names are atomic
 * write temporaries (hant_file_is_atomic_temp), not modified for ten
 * minutes (a younger one may be another daemon's write in progress in a
 * shared output directory), at the top of the state directory, of every
 * STATE/users/UID, of STATE/jobs and of every output directory.
 * *removed (may be NULL) receives how many. Errors are not fatal: what can
 * be removed is, and the last failure is returned. */
int hant_places_sweep(hant_places *p, int *removed);

/* The state directory, as given to hant_places_open; "" for the empty set. */
const char *hant_places_state_dir(const hant_places *p);

/* STATE/jobs (see above); "" for the empty set. */
const char *hant_places_jobs_dir(const hant_places *p);

/* A file a peer named, resolved in one of its places. */
typedef struct hant_place_file {
  int dir_fd;      /* the directory that holds it, owned; -1 when none */
  char name[256];  /* its entry in dir_fd: one path component */
  char path[1024]; /* its absolute path, for answers and messages */
  uid_t uid;       /* the peer it was resolved for */
  bool own;        /* it lies in the peer's own directory */
} hant_place_file;

/* An empty file, for hant_place_file_close to skip. */
void hant_place_file_init(hant_place_file *f);
/* Closes f's directory. Safe on an initialised or closed file. */
void hant_place_file_close(hant_place_file *f);

/* Resolves path, as peer uid named it in the request field `field` (the
 * label messages start with, e.g. "out"), for use: a relative path beneath
 * the peer's own directory, an absolute one beneath the first of the
 * peer's places for that use that holds it. Every directory on the way is
 * opened without following a link, the last one is kept in f->dir_fd, and
 * the file itself is not opened: the reader opens it with
 * hant_place_file_open, the writer writes it with hant_place_file_write.
 * For writing, a forbidden file or a directory at that name is refused.
 *
 * Errors (HANT_EINVAL for a refused path, HANT_ENOENT for a directory that
 * is missing inside a place, HANT_EIO otherwise) record a message that
 * starts with field and a colon; a path outside every place is refused by
 * its text alone, e.g. "out: '/etc/x' is outside the directories hantd
 * writes for uid 65534 (/var/lib/hantd/users/65534)". On failure f holds
 * no descriptor. */
int hant_places_resolve(const hant_places *p, uid_t uid, hant_place_use use, const char *field, const char *path,
                        hant_place_file *f);

/* Opens a file resolved for reading: O_RDONLY | O_NONBLOCK, so that a FIFO
 * or a device never blocks, and refused unless it is a regular file, not a
 * forbidden one and, in the peer's own directory, owned by the peer or by
 * the daemon (with one link). *fd is the caller's to close. */
int hant_place_file_open(const hant_places *p, const hant_place_file *f, const char *field, int *fd);

/* Opens a directory resolved for reading (as `data` names one): *fd is an
 * O_PATH descriptor of it, the caller's to close. */
int hant_place_file_open_dir(const hant_places *p, const hant_place_file *f, const char *field, int *fd);

/* Writes data as the file f names, atomically (hant_file_write_atomic_at),
 * mode 0600, owned by f->uid when the daemon can give it away and by the
 * daemon otherwise. Forbidden files are checked again first. */
int hant_place_file_write(const hant_places *p, const hant_place_file *f, const char *field, const void *data,
                          size_t len);

#endif
