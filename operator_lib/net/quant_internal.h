/* SPDX-License-Identifier: MIT */
/* quant_internal.h: what quant.c shares with the int8 evaluation (quant_run.c). */
#ifndef HANT_QUANT_INTERNAL_H
#define HANT_QUANT_INTERNAL_H

#include "quant.h"

/* Frees a quantised network's evaluation state; NULL is a no-op. */
void hant__qrun_free(struct hant_qrun *run);

/* c[e] = lut[a[e] << 8 | b[e]] for e < cnt: a QLinearAdd through its table
 * of all 65,536 sums (lut holds 4 bytes more, for 32-bit gathers at its
 * end), on the widest vector unit the CPU has, or with portable the plain
 * loop (tests compare the two). */
void hant__qadd_lookup(const uint8_t *lut, const uint8_t *a, const uint8_t *b, uint8_t *c, size_t cnt,
                       bool portable);

#endif
