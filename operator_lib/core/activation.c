/* SPDX-License-Identifier: MIT */
/* activation.c: ReLU, ReLU6 and hard-swish, forward and backward. */
#include <string.h>

#include "ops.h"

static const char *const act_names[] = {
    [HANT_ACT_NONE] = "none",
    [HANT_ACT_RELU] = "relu",
    [HANT_ACT_RELU6] = "relu6",
    [HANT_ACT_HSWISH] = "hswish",
};
_Static_assert(sizeof(act_names) / sizeof(act_names[0]) == HANT_ACT_COUNT,
               "act_names must cover every activation");

const char *hant_act_name(hant_act a) {
  return (unsigned)a < HANT_ACT_COUNT ? act_names[a] : NULL;
}

hant_act hant_act_from_name(const char *s) {
  for (int i = 0; i < HANT_ACT_COUNT; i++)
    if (!strcmp(s, act_names[i]))
      return (hant_act)i;
  return HANT_ACT_COUNT;
}

void hant_act_forward(hant_act a, const float *x, float *y, size_t n) {
  switch (a) {
  case HANT_ACT_NONE:
    if (y != x)
      memmove(y, x, n * sizeof(float));
    break;
  case HANT_ACT_RELU:
    for (size_t i = 0; i < n; i++)
      y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    break;
  case HANT_ACT_RELU6:
    for (size_t i = 0; i < n; i++) {
      float v = x[i] > 0.0f ? x[i] : 0.0f;
      y[i] = v < 6.0f ? v : 6.0f;
    }
    break;
  case HANT_ACT_HSWISH: /* x * relu6(x + 3) / 6 */
    for (size_t i = 0; i < n; i++) {
      float v = x[i] + 3.0f;
      v = v > 0.0f ? v : 0.0f;
      v = v < 6.0f ? v : 6.0f;
      y[i] = x[i] * v * (1.0f / 6.0f);
    }
    break;
  case HANT_ACT_COUNT:
    break;
  }
}

void hant_act_backward(hant_act a, const float *x, const float *dy, float *dx,
                       size_t n) {
  switch (a) {
  case HANT_ACT_NONE:
    if (dx != dy)
      memmove(dx, dy, n * sizeof(float));
    break;
  case HANT_ACT_RELU:
    for (size_t i = 0; i < n; i++)
      dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
    break;
  case HANT_ACT_RELU6:
    for (size_t i = 0; i < n; i++)
      dx[i] = (x[i] > 0.0f && x[i] < 6.0f) ? dy[i] : 0.0f;
    break;
  case HANT_ACT_HSWISH: /* d/dx: 0 below -3, 1 above 3, (2x + 3)/6 between */
    for (size_t i = 0; i < n; i++) {
      float v = x[i];
      float g = v <= -3.0f ? 0.0f : v >= 3.0f ? 1.0f : (2.0f * v + 3.0f) * (1.0f / 6.0f);
      dx[i] = dy[i] * g;
    }
    break;
  case HANT_ACT_COUNT:
    break;
  }
}
