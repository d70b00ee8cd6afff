/* SPDX-License-Identifier: MIT */
/* budget.h: budgets with units ("2W", "15ms", "4MB", "300MMAC"), parsed into a kind and a value in base units. */
#ifndef HANT_BUDGET_H
#define HANT_BUDGET_H

#include <stddef.h>

/* What a budget bounds. Each kind has one base unit, named in its key. */
typedef enum hant_budget_kind {
  HANT_BUDGET_LATENCY,  /* latency_ms: ms per inference */
  HANT_BUDGET_ENERGY,   /* energy_mj: mJ per inference */
  HANT_BUDGET_POWER,    /* power_w: W, a cap on energy / latency, or sustained power with a frame rate */
  HANT_BUDGET_MEMORY,   /* memory_bytes: weights plus peak activations, bytes */
  HANT_BUDGET_MACS,     /* macs: multiply-accumulates per inference */
  HANT_BUDGET_KIND_COUNT
} hant_budget_kind;

typedef struct hant_budget {
  hant_budget_kind kind;
  double value;   /* in the kind's base unit; finite and > 0 (0 for a relative budget not yet resolved) */
  double percent; /* > 0: a relative budget, at most this percent (0-100] of the teacher's own total of
                     the kind on the same device (transform_solve.h resolves it); 0: absolute */
} hant_budget;

/* The kind's key as used in JSON answers and problem files: "latency_ms",
 * "energy_mj", "power_w", "memory_bytes", "macs"; never NULL. */
const char *hant_budget_kind_key(hant_budget_kind k);
/* The kind of a key, or HANT_BUDGET_KIND_COUNT when unknown. */
hant_budget_kind hant_budget_kind_from_key(const char *key);

/* Parses a number followed by a unit, e.g. "2W", "500mW", "15ms", "3mJ",
 * "4MB", "300MMAC", "2.5 W" (one space is allowed). Units, exact case:
 *   time    s, ms, us            energy  J, mJ, uJ
 *   power   W, mW                memory  B, KB, MB, GB (10^3), KiB, MiB, GiB
 *   work    MAC, KMAC, MMAC, GMAC
 * The value must be finite and > 0. On error returns HANT_EINVAL with a
 * message naming the token and, for a unit that is almost right ("2w",
 * "15mS", "4mb", "300mmacs"), the likely intended spelling:
 * "budget '2w': unknown unit 'w'; did you mean '2W'?".
 *
 * A relative budget reads N%KIND: "50%energy" is half the teacher's energy
 * on the device, "33%latency" a third of its latency; N is a decimal number
 * in (0, 100] and KIND one of latency, energy, power, memory, macs. It
 * parses into out->percent = N with out->value = 0; errors name the budget
 * and what is expected ("budget '150%energy': the percentage must be greater than 0 and at
 * most 100 (of the teacher's energy on the device), e.g. 50%energy"). */
int hant_budget_parse(const char *text, hant_budget *out);

/* A kind by its short name as relative budgets spell it ("latency",
 * "energy", "power", "memory", "macs") or by its key; HANT_BUDGET_KIND_COUNT
 * when unknown. */
hant_budget_kind hant_budget_kind_from_name(const char *name);
/* The kind's short name ("energy"); never NULL. */
const char *hant_budget_kind_name(hant_budget_kind k);

/* Writes a budget back with a readable unit (e.g. "2 W", "15 ms",
 * "4 MB"); returns what snprintf returns. */
int hant_budget_format(const hant_budget *b, char *buf, size_t n);

#endif
