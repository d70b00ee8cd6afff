/* SPDX-License-Identifier: MIT */
/* rng.c: xoshiro256** seeded by splitmix64, so that every run with a seed is reproducible. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void hant_rng_seed(hant_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t hant_rng_next(hant_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float hant_rng_uniform(hant_rng *r) {
  return (float)(hant_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

uint32_t hant_rng_below(hant_rng *r, uint32_t n) {
  return (uint32_t)(((hant_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

float hant_rng_normal(hant_rng *r) {
  float u1 = hant_rng_uniform(r), u2 = hant_rng_uniform(r);
  if (u1 < 1e-12f)
    u1 = 1e-12f;
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

float hant_rng_gamma(hant_rng *r, float shape) {
  if (shape < 1.0f) {
    float u = hant_rng_uniform(r);
    return hant_rng_gamma(r, shape + 1.0f) * powf(u > 1e-12f ? u : 1e-12f, 1.0f / shape);
  }
  float d = shape - 1.0f / 3.0f, c = 1.0f / sqrtf(9.0f * d);
  for (;;) {
    float x = hant_rng_normal(r), v = 1.0f + c * x;
    if (v <= 0.0f)
      continue;
    v = v * v * v;
    float u = hant_rng_uniform(r);
    if (u < 1.0f - 0.0331f * x * x * x * x || logf(u > 1e-12f ? u : 1e-12f) < 0.5f * x * x + d * (1.0f - v + logf(v)))
      return d * v;
  }
}

float hant_rng_beta(hant_rng *r, float a, float b) {
  float x = hant_rng_gamma(r, a), y = hant_rng_gamma(r, b);
  return x + y > 0.0f ? x / (x + y) : 0.5f;
}

void hant_rng_shuffle(hant_rng *r, int *idx, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)hant_rng_below(r, (uint32_t)(i + 1));
    int t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}
