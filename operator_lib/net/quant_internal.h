/* SPDX-License-Identifier: MIT */
/* quant_internal.h: what quant.c shares with the int8 evaluation (quant_run.c). */
#ifndef HANT_QUANT_INTERNAL_H
#define HANT_QUANT_INTERNAL_H

#include "quant.h"

/* Frees a quantised network's evaluation state; NULL is a no-op. */
void hant__qrun_free(struct hant_qrun *run);

#endif
