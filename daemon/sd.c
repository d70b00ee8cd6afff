/* SPDX-License-Identifier: MIT */
/* sd.c: systemd glue: readiness notification and socket activation, when built with libsystemd. */
#include <stddef.h>

#include "sd.h"

#include "log.h"

#ifdef HANT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

int hantd_sd_listen_fd(void) {
  int n = sd_listen_fds(1);
  if (n < 1)
    return -1;
  if (n > 1)
    hantd_log(LOG_WARNING, "systemd passed %d sockets; serving the first", n);
  int fd = SD_LISTEN_FDS_START;
  if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
    hantd_log(LOG_ERR, "the socket systemd passed is not a listening Unix stream socket");
    return -1;
  }
  return fd;
}

void hantd_sd_notify(const char *state) { sd_notify(0, state); }
bool hantd_sd_enabled(void) { return true; }
#else
int hantd_sd_listen_fd(void) { return -1; }
void hantd_sd_notify(const char *state) { (void)state; }
bool hantd_sd_enabled(void) { return false; }
#endif
