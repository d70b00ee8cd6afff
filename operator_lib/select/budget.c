/* SPDX-License-Identifier: MIT */
/* budget.c: parses budgets with units, and suggests the unit a user probably meant. */
#include "budget.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base.h"

static const char *const kind_keys[] = {"latency_ms", "energy_mj", "power_w", "memory_bytes", "macs"};
static_assert(sizeof(kind_keys) / sizeof(kind_keys[0]) == HANT_BUDGET_KIND_COUNT, "one key per budget kind");

const char *hant_budget_kind_key(hant_budget_kind k) {
  return (unsigned)k < HANT_BUDGET_KIND_COUNT ? kind_keys[k] : "unknown";
}

hant_budget_kind hant_budget_kind_from_key(const char *key) {
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
    if (key && !strcmp(key, kind_keys[k]))
      return (hant_budget_kind)k;
  return HANT_BUDGET_KIND_COUNT;
}

static const char *const kind_names[] = {"latency", "energy", "power", "memory", "macs"};
static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == HANT_BUDGET_KIND_COUNT, "one name per budget kind");

const char *hant_budget_kind_name(hant_budget_kind k) {
  return (unsigned)k < HANT_BUDGET_KIND_COUNT ? kind_names[k] : "unknown";
}

hant_budget_kind hant_budget_kind_from_name(const char *name) {
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
    if (name && (!strcmp(name, kind_names[k]) || !strcmp(name, kind_keys[k])))
      return (hant_budget_kind)k;
  return HANT_BUDGET_KIND_COUNT;
}

struct unit {
  const char *name;
  hant_budget_kind kind;
  double scale; /* base units per one of this unit */
};

static const struct unit units[] = {
    {"s", HANT_BUDGET_LATENCY, 1e3},      {"ms", HANT_BUDGET_LATENCY, 1.0},
    {"us", HANT_BUDGET_LATENCY, 1e-3},    {"J", HANT_BUDGET_ENERGY, 1e3},
    {"mJ", HANT_BUDGET_ENERGY, 1.0},      {"uJ", HANT_BUDGET_ENERGY, 1e-3},
    {"W", HANT_BUDGET_POWER, 1.0},        {"mW", HANT_BUDGET_POWER, 1e-3},
    {"B", HANT_BUDGET_MEMORY, 1.0},       {"KB", HANT_BUDGET_MEMORY, 1e3},
    {"MB", HANT_BUDGET_MEMORY, 1e6},      {"GB", HANT_BUDGET_MEMORY, 1e9},
    {"KiB", HANT_BUDGET_MEMORY, 1024.0},  {"MiB", HANT_BUDGET_MEMORY, 1048576.0},
    {"GiB", HANT_BUDGET_MEMORY, 1073741824.0}, {"MAC", HANT_BUDGET_MACS, 1.0},
    {"KMAC", HANT_BUDGET_MACS, 1e3},      {"MMAC", HANT_BUDGET_MACS, 1e6},
    {"GMAC", HANT_BUDGET_MACS, 1e9},
};
#define N_UNITS (sizeof(units) / sizeof(units[0]))

/* Spellings people type for a unit that are not one. */
static const struct {
  const char *alias, *unit;
} aliases[] = {
    {"sec", "s"},   {"secs", "s"},    {"msec", "ms"},  {"msecs", "ms"}, {"usec", "us"},
    {"\xc2\xb5s", "us"}, {"watt", "W"}, {"watts", "W"}, {"joule", "J"}, {"joules", "J"},
    {"bytes", "B"}, {"kib", "KiB"},   {"macs", "MAC"}, {"flops", "MAC"},
};

/* Case-insensitive edit distance of short strings (units), capped at 9. */
static int distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 15 || lb > 15)
    return 9;
  int d[16][16];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int sub = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return d[la][lb] > 9 ? 9 : d[la][lb];
}

/* The unit the user most likely meant by `u`, or NULL. A different case
 * of a real unit wins ("w" -> "W"), then an alias, then the closest unit
 * within one edit (two for longer names). */
static const char *suggest(const char *u) {
  for (size_t i = 0; i < N_UNITS; i++)
    if (!strcasecmp(u, units[i].name))
      return units[i].name;
  for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
    if (!strcasecmp(u, aliases[i].alias))
      return aliases[i].unit;
  const char *best = NULL;
  int bd = strlen(u) >= 4 ? 2 : 1;
  for (size_t i = 0; i < N_UNITS; i++) {
    int d = distance(u, units[i].name);
    if (d <= bd && (d < bd || !best)) {
      /* Never "correct" into a unit of another magnitude by one letter
       * of prefix alone when the rest differs too: require the same last
       * letter, so "mj" can become "mJ" but "ml" does not become "mJ". */
      size_t lu = strlen(u), ln = strlen(units[i].name);
      if (tolower((unsigned char)u[lu - 1]) != tolower((unsigned char)units[i].name[ln - 1]) && d > 0 &&
          !(lu == ln + 1 && tolower((unsigned char)u[lu - 1]) == 's'))
        continue;
      best = units[i].name;
      bd = d;
    }
  }
  return best;
}

static const char *printable(const char *s, char *buf, size_t n) {
  size_t o = 0;
  for (; *s && o + 4 < n; s++)
    buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
  buf[o] = '\0';
  return buf;
}

/* N%KIND, text holding a '%'. The kind comes after the number so that
 * "50%energy" cannot be mistaken for an absolute budget in some unit. */
static int parse_relative(const char *text, const char *shown, hant_budget *out) {
  const char *pct = strchr(text, '%');
  const char *q = text;
  size_t digits = 0;
  while (isdigit((unsigned char)*q))
    q++, digits++;
  if (*q == '.')
    for (q++; isdigit((unsigned char)*q); q++)
      digits++;
  if (!digits || q != pct)
    return hant__error(HANT_EINVAL,
                       "budget '%s': expected a relative budget N%%KIND with a number N in (0, 100] before the "
                       "'%%', e.g. 50%%energy",
                       shown);
  double v = strtod(text, NULL);
  const char *name = pct + 1;
  hant_budget_kind k = hant_budget_kind_from_name(name);
  if (k == HANT_BUDGET_KIND_COUNT) {
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < HANT_BUDGET_KIND_COUNT; i++) {
      int d = distance(name, kind_names[i]);
      if (d < bd)
        best = kind_names[i], bd = d;
    }
    char nshown[40];
    printable(name, nshown, sizeof(nshown));
    if (best)
      return hant__error(HANT_EINVAL, "budget '%s': unknown kind '%s' after the '%%'; did you mean '%.*s%s'?", shown,
                         nshown, (int)(pct - text + 1), text, best);
    return hant__error(HANT_EINVAL,
                       "budget '%s': unknown kind '%s' after the '%%'; expected latency, energy, power, memory or "
                       "macs, e.g. 50%%energy",
                       shown, nshown);
  }
  if (!(v > 0) || v > 100 || !isfinite(v))
    return hant__error(HANT_EINVAL,
                       "budget '%s': the percentage must be greater than 0 and at most 100 (of the teacher's %s on "
                       "the device), e.g. 50%%%s",
                       shown, kind_names[k], kind_names[k]);
  out->kind = k;
  out->value = 0;
  out->percent = v;
  return 0;
}

int hant_budget_parse(const char *text, hant_budget *out) {
  char shown[80];
  if (!text || !out)
    return hant__error(HANT_EINVAL, "budget: no text");
  printable(text, shown, sizeof(shown));
  if (strlen(text) > 64)
    return hant__error(HANT_EINVAL, "budget '%s...': too long; expected a number and a unit, e.g. 2W or 15ms",
                       shown);
  const char *p = text;
  if (!*p)
    return hant__error(HANT_EINVAL, "budget '': empty; expected a number and a unit, e.g. 2W or 15ms");
  if (strchr(p, '%'))
    return parse_relative(p, shown, out);
  /* Only the documented form: decimal digits with an optional fraction and
   * exponent, then the unit with nothing between or around them. strtod
   * alone would also take spaces, signs, hex ("0x10ms" as 16 ms), "inf"
   * and "nan". */
  const char *q = p;
  size_t digits = 0;
  while (isdigit((unsigned char)*q))
    q++, digits++;
  if (*q == '.')
    for (q++; isdigit((unsigned char)*q); q++)
      digits++;
  if (digits && (*q == 'e' || *q == 'E')) {
    const char *e = q + 1;
    if (*e == '+' || *e == '-')
      e++;
    if (isdigit((unsigned char)*e)) {
      while (isdigit((unsigned char)*e))
        e++;
      q = e;
    }
  }
  if (*p == '-' || *p == '+')
    return hant__error(HANT_EINVAL, "budget '%s': must be greater than zero, written without a sign, e.g. 2W",
                       shown);
  if (!digits)
    return hant__error(HANT_EINVAL, "budget '%s': expected a number before the unit, e.g. 2W or 15ms", shown);
  char *end;
  errno = 0;
  double v = strtod(p, &end);
  if (end != q || errno == ERANGE || !isfinite(v))
    return hant__error(HANT_EINVAL, "budget '%s': expected a decimal number before the unit, e.g. 2W or 15ms",
                       shown);
  const char *u = end;
  if (isspace((unsigned char)*u))
    return hant__error(HANT_EINVAL, "budget '%s': no space between the number and the unit, e.g. 2W", shown);
  if (!*u)
    return hant__error(HANT_EINVAL,
                       "budget '%s': missing unit; expected one of s, ms, us, J, mJ, uJ, W, mW, B, KB, MB, "
                       "GB, KiB, MiB, GiB, MAC, KMAC, MMAC, GMAC",
                       shown);
  char ubuf[24];
  size_t ul = strlen(u);
  if (ul >= sizeof(ubuf))
    ul = sizeof(ubuf) - 1;
  memcpy(ubuf, u, ul);
  ubuf[ul] = '\0';
  const struct unit *found = NULL;
  for (size_t i = 0; i < N_UNITS; i++)
    if (!strcmp(ubuf, units[i].name))
      found = &units[i];
  if (!found) {
    char ushown[40], num[40];
    printable(ubuf, ushown, sizeof(ushown));
    size_t nl = (size_t)(end - p) < sizeof(num) - 1 ? (size_t)(end - p) : sizeof(num) - 1;
    memcpy(num, p, nl);
    num[nl] = '\0';
    const char *s = suggest(ubuf);
    if (s)
      return hant__error(HANT_EINVAL, "budget '%s': unknown unit '%s'; did you mean '%s%s'?", shown, ushown, num, s);
    return hant__error(HANT_EINVAL,
                       "budget '%s': unknown unit '%s'; expected one of s, ms, us, J, mJ, uJ, W, mW, B, KB, "
                       "MB, GB, KiB, MiB, GiB, MAC, KMAC, MMAC, GMAC",
                       shown, ushown);
  }
  if (!(v > 0))
    return hant__error(HANT_EINVAL, "budget '%s': must be greater than zero", shown);
  double base = v * found->scale;
  if (!isfinite(base))
    return hant__error(HANT_EINVAL, "budget '%s': too large", shown);
  out->kind = found->kind;
  out->value = base;
  out->percent = 0;
  return 0;
}

int hant_budget_format(const hant_budget *b, char *buf, size_t n) {
  double v = b->value;
  if (b->percent > 0 && !(v > 0))
    return snprintf(buf, n, "%.6g%%%s", b->percent, hant_budget_kind_name(b->kind));
  switch (b->kind) {
  case HANT_BUDGET_LATENCY:
    return v >= 1e3 ? snprintf(buf, n, "%.6g s", v / 1e3)
           : v < 1  ? snprintf(buf, n, "%.6g us", v * 1e3)
                    : snprintf(buf, n, "%.6g ms", v);
  case HANT_BUDGET_ENERGY:
    return v >= 1e3 ? snprintf(buf, n, "%.6g J", v / 1e3)
           : v < 1  ? snprintf(buf, n, "%.6g uJ", v * 1e3)
                    : snprintf(buf, n, "%.6g mJ", v);
  case HANT_BUDGET_POWER: return v < 1 ? snprintf(buf, n, "%.6g mW", v * 1e3) : snprintf(buf, n, "%.6g W", v);
  case HANT_BUDGET_MEMORY:
    return v >= 1e9   ? snprintf(buf, n, "%.6g GB", v / 1e9)
           : v >= 1e6 ? snprintf(buf, n, "%.6g MB", v / 1e6)
           : v >= 1e3 ? snprintf(buf, n, "%.6g KB", v / 1e3)
                      : snprintf(buf, n, "%.6g B", v);
  case HANT_BUDGET_MACS:
    return v >= 1e9   ? snprintf(buf, n, "%.6g GMAC", v / 1e9)
           : v >= 1e6 ? snprintf(buf, n, "%.6g MMAC", v / 1e6)
           : v >= 1e3 ? snprintf(buf, n, "%.6g KMAC", v / 1e3)
                      : snprintf(buf, n, "%.6g MAC", v);
  default: return snprintf(buf, n, "%.6g", v);
  }
}
