/* SPDX-License-Identifier: MIT */
/* json_close.h: equality of JSON values up to the rounding of reals, for fuzz targets that check what an answer shows. */
#ifndef HANT_FUZZ_JSON_CLOSE_H
#define HANT_FUZZ_JSON_CLOSE_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

/* True when a and b have the same shape, keys, strings and integers, and
 * their reals differ by at most rel relative to the larger (hantd writes
 * reals to 12 significant digits: rel 1e-11). Both NULL counts as equal. */
static inline bool json_close(const json_t *a, const json_t *b, double rel) {
  if (!a || !b)
    return !a && !b;
  if (json_is_real(a) && json_is_real(b)) {
    double x = json_real_value(a), y = json_real_value(b);
    return fabs(x - y) <= rel * fmax(fabs(x), fabs(y));
  }
  if (json_typeof(a) != json_typeof(b))
    return false;
  if (json_is_array(a)) {
    if (json_array_size(a) != json_array_size(b))
      return false;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!json_close(json_array_get(a, i), json_array_get(b, i), rel))
        return false;
    return true;
  }
  if (json_is_object(a)) {
    if (json_object_size(a) != json_object_size(b))
      return false;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)a, key, v) {
      if (!json_close(v, json_object_get(b, key), rel))
        return false;
    }
    return true;
  }
  return json_equal(a, b);
}

#endif
