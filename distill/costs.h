/* SPDX-License-Identifier: MIT */
/* costs.h: helpers the profile, import-costs, export-ops and devices subcommands share. */
#ifndef HANT_DISTILL_COSTS_H
#define HANT_DISTILL_COSTS_H

#include <stddef.h>
#include <stdint.h>

#include "hant.h"


/* Energy of an inference that took latency_ms on d in `mode`, from the
 * profile's model (per-MAC and per-byte energy plus idle power over the
 * given latency), its memory bytes, and the source string to record. */
int costs_model_energy(const hant_device *d, int mode, const hant_net *net, int batch, double latency_ms,
                       double *energy_mj, int64_t *memory_bytes, char *source, size_t n);

/* Stores d's profile text in the library; *id receives the device row. */
int costs_device_put(hant_store *st, const hant_device *d, int64_t *id);

#endif
