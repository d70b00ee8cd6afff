/* SPDX-License-Identifier: MIT */
/* fuzz_costs.c: fuzz target for the untrusted cost inputs (device profiles, cost tables, operator lists), with a standalone random/mutation driver. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costtable.h"
#include "device.h"
#include "hant.h"
#include "opsfile.h"
#include "rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first byte picks the parser; the rest is the file. Returns the parser's code. */
static int parse(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  int rc;
  switch (data[0] % 3) {
  case 0: {
    hant_device *d = NULL;
    if ((rc = hant_device_parse(text, len, "fuzz.json", &d)) == 0) {
      hant_device_point p;
      for (int m = -1; m < d->n_modes; m++)
        hant_device_point_get(d, m, &p);
    }
    hant_device_destroy(d);
    break;
  }
  case 1: {
    hant_costtable t;
    if ((rc = hant_costtable_parse(text, len, "fuzz.csv", &t)) == 0)
      for (int i = 0; i < t.n; i++)
        HANT_ASSERT(t.rows[i].latency_ms > 0 && t.rows[i].batch >= 1);
    hant_costtable_free(&t);
    break;
  }
  default: {
    hant_ops_entry *e = NULL;
    int n = 0;
    if ((rc = hant_opsfile_parse(text, len, "fuzz.txt", &e, &n)) == 0)
      for (int i = 0; i < n; i++)
        HANT_ASSERT(e[i].id > 0 && e[i].c > 0);
    free(e);
    break;
  }
  }
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  parse(data, size);
  return 0;
}

#ifndef HANT_LIBFUZZER
/* Standalone driver: runs the files named on the command line, or with
 * --random SECONDS [--seed N] mutates valid inputs built here. */

static const char *const seeds[] = {
    "\0{\"name\":\"x\",\"description\":\"d\",\"kind\":\"npu\",\"precision\":\"int8\","
    "\"compute\":{\"int8\":{\"value\":4,\"unit\":\"TOP/s\",\"source\":\"sheet\"}},"
    "\"efficiency\":{\"conv\":{\"value\":0.5,\"unit\":\"1\",\"source\":\"guess\"},"
    "\"depthwise\":{\"value\":0.1,\"unit\":\"1\",\"source\":\"guess\"},"
    "\"linear\":{\"value\":0.3,\"unit\":\"1\",\"source\":\"guess\"},\"memory\":{\"value\":0.6,\"unit\":\"1\",\"source\":\"guess\"}},"
    "\"array\":{\"rows\":{\"value\":64,\"unit\":\"1\",\"source\":\"guess\"},\"cols\":{\"value\":64,\"unit\":\"1\",\"source\":\"guess\"}},"
    "\"overhead\":{\"value\":5,\"unit\":\"us\",\"source\":\"guess\"},\"execution\":\"pipelined\","
    "\"memory\":[{\"name\":\"dram\",\"capacity\":{\"value\":4,\"unit\":\"GB\",\"source\":\"src\"},"
    "\"bandwidth\":{\"value\":0.4,\"unit\":\"GB/s\",\"source\":\"src\"},\"energy\":{\"value\":160,\"unit\":\"pJ/B\",\"source\":\"src\"}}],"
    "\"energy\":{\"mac\":{\"int8\":{\"value\":1,\"unit\":\"pJ/MAC\",\"source\":\"src\"}}},"
    "\"power\":{\"idle\":{\"value\":0.5,\"unit\":\"W\",\"source\":\"src\"},\"active\":{\"value\":2,\"unit\":\"W\",\"source\":\"src\"}},"
    "\"clusters\":[{\"name\":\"a\",\"cores\":{\"value\":2,\"unit\":\"1\",\"source\":\"src\"},"
    "\"clock\":{\"value\":1,\"unit\":\"GHz\",\"source\":\"src\"},\"compute\":{\"int8\":{\"value\":9,\"unit\":\"GOP/s\",\"source\":\"src\"}}}],"
    "\"power_modes\":[{\"name\":\"lo\",\"cluster\":\"a\",\"compute_scale\":{\"value\":0.5,\"unit\":\"1\",\"source\":\"src\"},"
    "\"idle\":{\"value\":0.3,\"unit\":\"W\",\"source\":\"src\"},\"active\":{\"value\":1,\"unit\":\"W\",\"source\":\"src\"}}]}",
    "\1# hant cost table 1\n# tool: t\n# threads: 4\nid,batch,latency_ms,latency_spread,runs,energy_mj,energy_source,"
    "power_mode\n1,1,0.5,0.04,41,1.2,ina3221 POM_5V_IN,10W\n2,8,3.5,,,,,10W\n",
    "\2hant-ops 1\n# c\n1 1x28x28 conv 8 k=3 s=2\n2 8x14x14 dws 16 k=5\n3 16x7x7 res 16 g=2\n4 16x1x1 linear 10\n",
};

static size_t seed_len(int i) {
  return 1 + strlen(seeds[i] + 1);
}

static size_t mutate(hant_rng *r, uint8_t *buf, size_t n, size_t cap) {
  static const char *const tokens[] = {"-1", "1e308", "nan", "0", "\"", ",", "{", "}", "[", "]", ":", "\n",
                                       "mW", "GB/s", "99999999999", "x", "#", "k=65535", "65536x65536x65536"};
  int k = 1 + (int)hant_rng_below(r, 4);
  for (int j = 0; j < k && n > 1; j++) {
    size_t at = 1 + hant_rng_below(r, (uint32_t)(n - 1));
    switch (hant_rng_below(r, 4)) {
    case 0: /* flip a byte */
      buf[at] ^= (uint8_t)(1u << hant_rng_below(r, 8));
      break;
    case 1: /* delete a run */ {
      size_t len = 1 + hant_rng_below(r, 16);
      if (at + len > n)
        len = n - at;
      memmove(buf + at, buf + at + len, n - at - len);
      n -= len;
      break;
    }
    default: { /* insert a token */
      const char *t = tokens[hant_rng_below(r, sizeof(tokens) / sizeof(tokens[0]))];
      size_t tl = strlen(t);
      if (n + tl > cap)
        break;
      memmove(buf + at + tl, buf + at, n - at);
      memcpy(buf + at, t, tl);
      n += tl;
      break;
    }
    }
  }
  return n;
}

int main(int argc, char **argv) {
  double seconds = 0;
  uint64_t seed = 1;
  int files = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--random") && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
      seed = strtoull(argv[++i], NULL, 10);
    } else {
      char *t;
      size_t n;
      if (hant_file_read(argv[i], (size_t)64 << 20, &t, &n)) {
        fprintf(stderr, "fuzz_costs: %s\n", hant_errmsg());
        return 1;
      }
      LLVMFuzzerTestOneInput((const uint8_t *)t, n);
      free(t);
      files++;
    }
  }
  if (!seconds && !files)
    seconds = 2;
  hant_rng r;
  hant_rng_seed(&r, seed);
  enum { CAP = 16384 };
  uint8_t *buf = malloc(CAP);
  long runs = 0;
  double t0 = hant_now_s();
  for (int i = 0; i < 3; i++) /* the seeds themselves parse, so mutants reach deep */
    if (parse((const uint8_t *)seeds[i], seed_len(i))) {
      fprintf(stderr, "fuzz_costs: seed %d does not parse: %s\n", i, hant_errmsg());
      return 1;
    }
  while (seconds > 0 && hant_now_s() - t0 < seconds) {
    int s = (int)hant_rng_below(&r, 3);
    size_t n = seed_len(s);
    memcpy(buf, seeds[s], n);
    n = mutate(&r, buf, n, CAP);
    LLVMFuzzerTestOneInput(buf, n);
    runs++;
  }
  free(buf);
  printf("fuzz_costs: %ld mutated inputs in %.1f s, no crash\n", runs, hant_now_s() - t0);
  return 0;
}
#endif
