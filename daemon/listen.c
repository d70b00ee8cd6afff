/* SPDX-License-Identifier: MIT */
/* listen.c: hantd's listening socket: safe binding, systemd socket activation, peer checks on accept. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"

#include "conn.h"
#include "daemon.h"
#include "hant.h"
#include "log.h"
#include "sd.h"

static bool uid_allowed(const hantd_config *cfg, uid_t uid) {
  if (cfg->allow_any || uid == geteuid())
    return true;
  if (!cfg->n_allowed)
    return uid == 0;
  for (int i = 0; i < cfg->n_allowed; i++)
    if (cfg->allowed[i] == uid)
      return true;
  return false;
}

static void on_connection(uv_stream_t *server, int status) {
  hantd *d = server->data;
  if (status < 0) {
    hantd_log(LOG_WARNING, "accept: %s", uv_strerror(status));
    return;
  }
  hantd_conn *c = hantd_conn_new(d);
  if (!c) {
    hantd_log(LOG_ERR, "out of memory accepting a connection");
    return;
  }
  if (uv_accept(server, hantd_conn_stream(c))) {
    hantd_conn_close(c);
    return;
  }
  uv_os_fd_t fd;
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (uv_fileno((uv_handle_t *)hantd_conn_stream(c), &fd) || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
    hantd_log(LOG_WARNING, "connection %llu: cannot read the peer's credentials; refused",
              (unsigned long long)hantd_conn_id(c));
    hantd_conn_close(c);
    return;
  }
  hantd_conn_set_peer(c, cred.uid, cred.pid);
  if (!uid_allowed(&d->cfg, cred.uid)) {
    hantd_log_limited(&d->refusals, LOG_WARNING, "refused a connection from uid %u (pid %d): not in allowed_uids",
                      (unsigned)cred.uid, (int)cred.pid);
    char msg[128];
    snprintf(msg, sizeof(msg), "permission denied: uid %u may not use this daemon", (unsigned)cred.uid);
    hantd_conn_refuse(c, HANT_RPC_FORBIDDEN, msg);
    return;
  }
  /* The new connection is already counted. */
  if (d->n_conns > d->cfg.max_clients) {
    hantd_log_limited(&d->refusals, LOG_WARNING, "refused a connection from uid %u: %d clients already",
                      (unsigned)cred.uid, d->n_conns - 1);
    hantd_conn_refuse(c, HANT_RPC_TOO_MANY_CLIENTS, "too many clients; retry later");
    return;
  }
  hantd_log(LOG_DEBUG, "connection %llu from uid %u pid %d", (unsigned long long)hantd_conn_id(c),
            (unsigned)cred.uid, (int)cred.pid);
  hantd_conn_start(c);
}

/* Creates the socket's directory if missing (0700, or 0755 under /run). */
static int make_parent(const char *path) {
  /* The directory by hand, not dirname(): GCC cannot see that dirname
   * never returns NULL and fails the sanitizer build on its copy. */
  char dir[1024];
  size_t n = strlen(path);
  if (n >= sizeof(dir)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(dir, path, n + 1);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) /* the working directory, or / */
    return 0;
  *slash = '\0';
  struct stat st;
  if (stat(dir, &st) == 0)
    return S_ISDIR(st.st_mode) ? 0 : -1;
  make_parent(dir);
  return mkdir(dir, strncmp(dir, "/run/", 5) ? 0700 : 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Is a daemon answering on path? Returns its pid (> 0), 0 when the socket
 * is stale (connection refused), -1 when it cannot tell (errno set). */
static int probe(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  int rc;
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0 ? cred.pid : 1;
  } else {
    rc = errno == ECONNREFUSED ? 0 : -1;
  }
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

int hantd_listen_check(const hantd_config *cfg) {
  if (getenv("LISTEN_FDS")) /* systemd passes the socket: there is nothing to create */
    return 0;
  /* The nearest existing directory on the way to the socket is where
   * something is created first: the socket's directory or the socket. */
  char dir[1024];
  size_t n = strlen(cfg->socket);
  if (n >= sizeof(dir))
    return 0; /* hantd_listen_start says it is too long */
  memcpy(dir, cfg->socket, n + 1);
  for (;;) {
    char *slash = strrchr(dir, '/');
    if (!slash)
      snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
      dir[1] = '\0';
    else
      *slash = '\0';
    struct stat st;
    int e = 0;
    if (stat(dir, &st) == 0)
      e = !S_ISDIR(st.st_mode) ? ENOTDIR : access(dir, W_OK | X_OK) ? errno : 0;
    else if (errno == ENOENT && strcmp(dir, "/") && strcmp(dir, "."))
      continue;
    else
      e = errno;
    if (!e)
      return 0;
    const char *rt = getenv("XDG_RUNTIME_DIR");
    hantd_log(LOG_ERR,
              "cannot create the socket %s: %s: %s; choose a socket you may create with --socket PATH (or "
              "'socket =' in --config)%s",
              cfg->socket, dir, strerror(e),
              rt && rt[0] ? ""
                          : ", or set XDG_RUNTIME_DIR (a login session does) for the default "
                            "$XDG_RUNTIME_DIR/hant/hantd.sock");
    return HANT_EIO;
  }
}

int hantd_listen_start(hantd *d) {
  hantd_config *cfg = &d->cfg;
  uv_pipe_init(d->loop, &d->listener, 0);
  d->listener.data = d;
  int fd = hantd_sd_listen_fd();
  if (fd >= 0) {
    int rc = uv_pipe_open(&d->listener, fd);
    if (rc) {
      hantd_log(LOG_ERR, "cannot use the socket systemd passed: %s", uv_strerror(rc));
      return HANT_EIO;
    }
    d->socket_activated = true;
    hantd_log(LOG_INFO, "serving the socket systemd passed (socket activation)");
  } else {
    struct sockaddr_un sa;
    if (strlen(cfg->socket) >= sizeof(sa.sun_path)) {
      hantd_log(LOG_ERR, "%s: socket path too long (at most %zu bytes)", cfg->socket, sizeof(sa.sun_path) - 1);
      return HANT_ELIMIT;
    }
    if (make_parent(cfg->socket)) {
      hantd_log(LOG_ERR, "%s: cannot create its directory: %s", cfg->socket, strerror(errno));
      return HANT_EIO;
    }
    /* A lock next to the socket makes "is another daemon here?" exact. */
    char lock[1100];
    snprintf(lock, sizeof(lock), "%s.lock", cfg->socket);
    /* O_NOFOLLOW: a link planted at the lock's name must not make the
     * daemon create or open a file elsewhere. */
    d->lock_fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (d->lock_fd < 0) {
      if (errno == ELOOP)
        hantd_log(LOG_ERR, "%s is a symbolic link; remove it (hantd follows none there)", lock);
      else
        hantd_log(LOG_ERR, "%s: %s", lock, strerror(errno));
      return HANT_EIO;
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
      int pid = probe(cfg->socket);
      if (pid > 0)
        hantd_log(LOG_ERR, "another hantd (pid %d) is serving %s; stop it first or choose another --socket", pid,
                  cfg->socket);
      else
        hantd_log(LOG_ERR, "another hantd holds %s; stop it first or choose another --socket", lock);
      return HANT_EBUSY;
    }
    struct stat st;
    if (lstat(cfg->socket, &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        hantd_log(LOG_ERR, "%s exists and is not a socket; remove it or choose another --socket", cfg->socket);
        return HANT_EBUSY;
      }
      int pid = probe(cfg->socket);
      if (pid > 0) {
        hantd_log(LOG_ERR, "a live daemon (pid %d) is serving %s; stop it first or choose another --socket", pid,
                  cfg->socket);
        return HANT_EBUSY;
      }
      if (pid < 0) {
        hantd_log(LOG_ERR, "%s: cannot tell whether a daemon serves it: %s", cfg->socket, strerror(errno));
        return HANT_EIO;
      }
      hantd_log(LOG_NOTICE, "replacing the stale socket %s", cfg->socket);
      if (unlink(cfg->socket) && errno != ENOENT) {
        hantd_log(LOG_ERR, "%s: cannot remove the stale socket: %s", cfg->socket, strerror(errno));
        return HANT_EIO;
      }
    }
    /* Bound here, not by uv_pipe_bind: libuv would unlink the path when
     * the handle closes, whatever is there by then. The daemon removes
     * only the inode it created (hantd_listen_stop). */
    int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sfd < 0) {
      hantd_log(LOG_ERR, "%s: socket: %s", cfg->socket, strerror(errno));
      return HANT_EIO;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, cfg->socket, strlen(cfg->socket) + 1);
    /* Created with no access for others from the first instant. */
    mode_t old = umask(0177);
    int brc = bind(sfd, (struct sockaddr *)&sa, sizeof(sa));
    int berr = errno;
    umask(old);
    if (brc) {
      hantd_log(LOG_ERR, "%s: bind: %s", cfg->socket, strerror(berr));
      close(sfd);
      return HANT_EIO;
    }
    struct stat bound;
    if (lstat(cfg->socket, &bound) == 0) {
      d->socket_ino = bound.st_ino;
      d->socket_dev = bound.st_dev;
    }
    int rc = uv_pipe_open(&d->listener, sfd);
    if (rc) {
      hantd_log(LOG_ERR, "%s: %s", cfg->socket, uv_strerror(rc));
      close(sfd);
      unlink(cfg->socket);
      return HANT_EIO;
    }
    if (cfg->socket_group[0]) {
      struct group *g = getgrnam(cfg->socket_group);
      if (!g || chown(cfg->socket, (uid_t)-1, g->gr_gid)) {
        hantd_log(LOG_ERR, "%s: cannot give the socket to group %s: %s", cfg->socket, cfg->socket_group,
                  g ? strerror(errno) : "no such group");
        unlink(cfg->socket);
        return HANT_EIO;
      }
    }
    if (chmod(cfg->socket, cfg->socket_mode)) {
      hantd_log(LOG_ERR, "%s: chmod: %s", cfg->socket, strerror(errno));
      unlink(cfg->socket);
      return HANT_EIO;
    }
  }
  int rc = uv_listen((uv_stream_t *)&d->listener, 511, on_connection);
  if (rc) {
    hantd_log(LOG_ERR, "%s: listen: %s", cfg->socket, uv_strerror(rc));
    if (!d->socket_activated)
      unlink(cfg->socket);
    return HANT_EIO;
  }
  d->listening = true;
  return 0;
}

void hantd_listen_stop(hantd *d) {
  if (!d->listening)
    return;
  d->listening = false;
  uv_close((uv_handle_t *)&d->listener, NULL);
  if (!d->socket_activated) {
    /* Remove the socket only if it is still the one we bound: whatever
     * replaced it (a file, another daemon's socket) stays. */
    struct stat st;
    if (lstat(d->cfg.socket, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == d->socket_ino &&
        st.st_dev == d->socket_dev)
      unlink(d->cfg.socket);
  }
}
