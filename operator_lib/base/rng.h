/* SPDX-License-Identifier: MIT */
/* rng.h: a small, fast, reproducible random generator (xoshiro128+ style state, splitmix seeding). */
#ifndef HANT_RNG_H
#define HANT_RNG_H

#include <stdint.h>

typedef struct hant_rng {
  uint64_t s[4];
} hant_rng;

void hant_rng_seed(hant_rng *r, uint64_t seed);
uint64_t hant_rng_next(hant_rng *r);
/* Uniform in [0, 1). */
float hant_rng_uniform(hant_rng *r);
/* Uniform integer in [0, n). */
uint32_t hant_rng_below(hant_rng *r, uint32_t n);
/* Standard normal (Box-Muller). */
float hant_rng_normal(hant_rng *r);
/* Gamma(shape, 1), shape > 0 (Marsaglia and Tsang, ACM TOMS 26(3), 2000;
 * shapes below 1 by their boost U^(1/shape)). */
float hant_rng_gamma(hant_rng *r, float shape);
/* Beta(a, b), a, b > 0, as X / (X + Y) of two gammas. */
float hant_rng_beta(hant_rng *r, float a, float b);
/* Fisher-Yates shuffle of an index array. */
void hant_rng_shuffle(hant_rng *r, int *idx, int n);

#endif
