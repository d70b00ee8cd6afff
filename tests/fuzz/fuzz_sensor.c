/* SPDX-License-Identifier: MIT */
/* fuzz_sensor.c: fuzz target for the sysfs text of power sensors: readings are decimal numbers and finite watts, labels printable lines, whatever the file holds. */
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hant.h"
#include "sensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input is the content of a sysfs attribute: read as a reading (as
 * in_power0_input), through a file as the sampler reads it, and as a
 * rail's label. */

static long accepted; /* readings accepted */
static int rail_fd = -1; /* the rail's file, in memory: a disk file would be flushed at every rewrite */
static char rail[64];    /* its path */

static void fail(const char *what, const uint8_t *data, size_t n) {
  fprintf(stderr, "fuzz_sensor: %s\n--- input (%zu bytes) ---\n%.*s\n---\n%s\n", what, n, (int)(n < 400 ? n : 400),
          (const char *)data, hant_errmsg());
  abort();
}

static void setup(void) {
  if (rail_fd >= 0)
    return;
  rail_fd = memfd_create("in_power0_input", MFD_CLOEXEC);
  if (rail_fd < 0) {
    perror("fuzz_sensor: memfd_create");
    exit(2);
  }
  snprintf(rail, sizeof(rail), "/proc/self/fd/%d", rail_fd);
}

static bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* What a reading promises, by a regular expression: the value, or false. */
static bool reference_reading(const char *s, size_t n, double *v) {
  static regex_t re;
  static bool compiled;
  if (!compiled) {
    if (regcomp(&re, "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$", REG_EXTENDED | REG_NOSUB))
      abort();
    compiled = true;
  }
  size_t a = 0, b = n;
  while (a < b && blank(s[a]))
    a++;
  while (b > a && blank(s[b - 1]))
    b--;
  if (b - a > 128 || memchr(s + a, '\0', b - a))
    return false;
  char tok[129];
  memcpy(tok, s + a, b - a);
  tok[b - a] = '\0';
  if (regexec(&re, tok, 0, NULL, 0))
    return false;
  *v = strtod(tok, NULL);
  return fabs(*v) < 9223372036854775808.0;
}

static void check_label(const uint8_t *data, size_t size, size_t n) {
  char buf[80];
  memset(buf, 'Z', sizeof(buf));
  hant_sensor_parse_label((const char *)data, size, buf, n);
  size_t i = 0;
  for (; i < size && data[i] != '\n' && data[i] && i + 1 < n; i++) {
    char want = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
    if (buf[i] != want)
      fail("a label is not the first line, shown printable", data, size);
  }
  if (buf[i] != '\0' || buf[n] != 'Z')
    fail("a label does not end where it should", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  /* A copy of its own size, so that reading past the text is caught. */
  char *text = malloc(size ? size : 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  double v = NAN, want = NAN;
  hant_errmsg_clear();
  int rc = hant_sensor_parse_reading(text, size, "sys/in_power0_input", &v);
  bool ok = reference_reading(text, size, &want);
  free(text);
  if (!rc != ok)
    fail(ok ? "a decimal number is refused" : "something other than a decimal number is accepted", data, size);
  if (rc && (rc > 0 || strncmp(hant_errmsg(), "sys/in_power0_input: ", 21)))
    fail("a refusal does not name the file", data, size);
  if (!rc && !(v == want && isfinite(v)))
    fail("a reading is not the number written", data, size);
  accepted += !rc;

  /* Through a file, as the sampler reads a rail. */
  if (ftruncate(rail_fd, 0) || pwrite(rail_fd, data, size, 0) != (ssize_t)size)
    fail("cannot write the rail's file", data, size);
  hant_sensor s;
  memset(&s, 0, sizeof(s));
  s.kind = HANT_SENSOR_INA3221;
  snprintf(s.power, sizeof(s.power), "%s", rail);
  double w = NAN;
  rc = hant_sensor_read_watts(&s, &w);
  if (!rc != (ok && size <= 128) || (!rc && w != want * 1e-3))
    fail("a rail's power file reads unlike its text", data, size);
  /* The hwmon driver's voltage times current: finite whatever they hold. */
  s.power[0] = '\0';
  snprintf(s.volt, sizeof(s.volt), "%s", rail);
  snprintf(s.curr, sizeof(s.curr), "%s", rail);
  rc = hant_sensor_read_watts(&s, &w);
  if (!rc != (ok && size <= 128) || (!rc && !isfinite(w)))
    fail("a rail's voltage and current read as no finite power", data, size);

  check_label(data, size, 1);
  check_label(data, size, 8);
  check_label(data, size, 64);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_sensor"
#include "fuzz_driver.h"

static const char *const seeds[] = {
    "4872\n", "  0\n", "-12\n", "3.25\n", "+7\r\n", "1.5e3\n", ".5", "4294967295\n", "00042\n",
};

static const char *const dict[] = {"\n", " ", "\t", "\r", ".", "e", "E", "+", "-", "0x", "inf", "nan", "e999", "e-999",
                                   "POM_5V_IN", "VDD_IN", "\x1b[2J", "\xff", "9223372036854775808"};

static const fuzz_target target = {.seeds = seeds,
                                    .n_seeds = sizeof(seeds) / sizeof(seeds[0]),
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0]),
                                    .keep_one_in = 0,
                                    .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
