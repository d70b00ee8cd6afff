/* SPDX-License-Identifier: MIT */
/* fuzz_costs.c: fuzz target for the untrusted cost inputs (device profiles, cost tables, operator lists), with the shared standalone driver. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costtable.h"
#include "device.h"
#include "hant.h"
#include "opsfile.h"

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

static long accepted; /* inputs a parser took whole */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 1 && parse(data, size) == 0)
    accepted++;
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_costs"
#include "../fuzz/fuzz_driver.h"

/* The first byte of an input picks the parser (0 profile, 1 cost table,
 * 2 operator list), so the seeds are built with it rather than as text. */
static const char *const texts[] = {
    "{\"name\":\"x\",\"description\":\"d\",\"kind\":\"npu\",\"precision\":\"int8\","
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
    "# hant cost table 1\n# tool: t\n# threads: 4\nid,batch,latency_ms,latency_spread,runs,energy_mj,energy_source,"
    "power_mode\n1,1,0.5,0.04,41,1.2,ina3221 POM_5V_IN,10W\n2,8,3.5,,,,,10W\n",
    "hant-ops 1\n# c\n1 1x28x28 conv 8 k=3 s=2\n2 8x14x14 dws 16 k=5\n3 16x7x7 res 16 g=2\n4 16x1x1 linear 10\n",
};

static int make_seeds(seed *pool, size_t *n, size_t cap) {
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]) && *n < cap; i++) {
    size_t len = strlen(texts[i]);
    uint8_t *p = malloc(len + 1);
    if (!p)
      return 1;
    p[0] = (uint8_t)i;
    memcpy(p + 1, texts[i], len);
    pool[(*n)++] = (seed){p, len + 1};
  }
  return 0;
}

static const char *const tokens[] = {"-1", "1e308", "nan", "0", "\"", ",", "{", "}", "[", "]", ":", "\n",
                                     "mW", "GB/s", "99999999999", "x", "#", "k=65535", "65536x65536x65536"};

/* Edits the file and never the parser-selecting first byte. */
static size_t mutate(uint8_t *buf, size_t n, size_t cap) {
  if (n < 2)
    return n;
  return 1 + fuzz_mutate(buf + 1, n - 1, cap - 1, tokens, sizeof(tokens) / sizeof(tokens[0]));
}

static const fuzz_target target = {.make_seeds = make_seeds, .mutate = mutate, .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
