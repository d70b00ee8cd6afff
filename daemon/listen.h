/* SPDX-License-Identifier: MIT */
/* listen.h: hantd's listening socket: bound safely or passed by systemd, and the peer checks of each new connection. */
#ifndef HANTD_LISTEN_H
#define HANTD_LISTEN_H

typedef struct hantd hantd; /* daemon.h */
typedef struct hantd_config hantd_config; /* config.h */

/* Checks, before the daemon creates anything (its library, its
 * directories), that it may create cfg.socket: the nearest existing
 * directory on the way to it must be a directory this process may write.
 * Nothing to check when systemd passes the socket (LISTEN_FDS). Returns 0,
 * or HANT_EIO after logging the socket, the directory, why, and that
 * --socket PATH (or XDG_RUNTIME_DIR, when unset) chooses another place. */
int hantd_listen_check(const hantd_config *cfg);

/* Serves the socket systemd passed, or binds cfg.socket: its directory is
 * created if missing, PATH.lock (flock) refuses a second daemon, a stale
 * socket is replaced and anything else at the path is left alone, the
 * socket is created mode 0600 and then given cfg.socket_mode and
 * cfg.socket_group. Each connection's peer uid is checked (SO_PEERCRED)
 * against cfg.allowed, and cfg.max_clients is enforced; refusals are
 * answered and logged. Returns 0, or after logging why HANT_EBUSY (another
 * daemon has the path, or something else is there), HANT_ELIMIT (the path
 * is too long for a socket) or HANT_EIO. */
int hantd_listen_start(hantd *d);
/* Stops accepting and removes the socket if it is still the one bound
 * here (never a socket systemd passed). Safe to call when not listening. */
void hantd_listen_stop(hantd *d);

#endif
