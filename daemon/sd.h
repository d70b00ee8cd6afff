/* SPDX-License-Identifier: MIT */
/* sd.h: what hantd asks of systemd: the socket it passed and readiness notifications. */
#ifndef HANTD_SD_H
#define HANTD_SD_H

#include <stdbool.h>

/* The socket systemd passed (socket activation), or -1. */
int hantd_sd_listen_fd(void);
/* sd_notify(0, state) when built with libsystemd, else a no-op. */
void hantd_sd_notify(const char *state);
bool hantd_sd_enabled(void);

#endif
