/* SPDX-License-Identifier: MIT */
/* test_device.c: device profiles load with converted units; malformed ones are refused naming the file and the JSON path; profiles are found by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"
#include "hant.h"
#include "opsfile.h"
#include "test_util.h"

static const char *src_dir; /* the source tree */

static char *slurp(const char *path, size_t *len) {
  char *t;
  if (hant_file_read(path, HANT_DEVICE_MAX_BYTES, &t, len))
    return NULL;
  return t;
}

/* Parses fixture `name` and checks it is refused with a message holding every `want`. */
static void refused(const char *name, const char *want1, const char *want2) {
  char path[1024];
  size_t len;
  snprintf(path, sizeof(path), "%s/tests/costs/data/%s", src_dir, name);
  char *t = slurp(path, &len);
  CHECK(t != NULL, "%s: cannot read", path);
  if (!t)
    return;
  hant_device *d = NULL;
  int rc = hant_device_parse(t, len, name, &d);
  CHECK(rc == HANT_EFORMAT && !d, "%s: accepted (rc %d)", name, rc);
  const char *m = hant_errmsg();
  CHECK(strstr(m, name) && strstr(m, want1) && (!want2 || strstr(m, want2)),
        "%s: message '%s' lacks '%s'%s%s", name, m, want1, want2 ? " / " : "", want2 ? want2 : "");
  hant_device_destroy(d);
  free(t);
}

static void test_refusals(void) {
  /* The three the issue names: a missing field, a wrong unit, a negative power. */
  refused("bad-missing-overhead.json", "overhead: required field is missing", NULL);
  refused("bad-unit-mode-active.json", "power_modes[1].active.unit:", "expected a power unit (W, mW), got \"GB/s\"");
  refused("bad-negative-idle.json", "power.idle.value:", "expected a non-negative number in mW, got -0.5");
  /* And their relatives. */
  refused("bad-negative-mode-idle.json", "power_modes[0].idle.value:", "non-negative");
  refused("bad-unit-bandwidth.json", "memory[1].bandwidth.unit:", "bandwidth unit");
  refused("bad-efficiency.json", "efficiency.conv.value:", "fraction in [1e-06, 1]");
  /* 5e-324 was once accepted and costed every candidate at Inf. */
  refused("bad-tiny-efficiency.json", "efficiency.memory.value:", "fraction in [1e-06, 1]");
  refused("bad-no-source.json", "compute.fp32.source:", "required");
  refused("bad-unknown-field.json", "clock_ghz: unknown field", NULL);

  /* A quantity outside what hant can cost, named with its field, and the
   * same bandwidth near the edge of the range accepted. */
  {
    char path[1024];
    size_t len;
    snprintf(path, sizeof(path), "%s/tests/costs/data/biglittle.json", src_dir);
    char *t = slurp(path, &len);
    const char *at = t ? strstr(t, "\"bandwidth\"") : NULL;
    const char *v = at ? strstr(at, "\"value\":") : NULL;
    CHECK(v != NULL, "biglittle.json has a bandwidth value");
    if (v) {
      const char *num_end = v + strlen("\"value\":");
      while (*num_end == ' ')
        num_end++;
      const char *after = num_end + strspn(num_end, "0123456789.e+-");
      char buf[16384];
      hant_device *dd = NULL;
      snprintf(buf, sizeof(buf), "%.*s 1e-20%s", (int)(num_end - t), t, after);
      CHECK(hant_device_parse(buf, strlen(buf), "tiny.json", &dd) == HANT_EFORMAT &&
                strstr(hant_errmsg(), "bandwidth.value:") && strstr(hant_errmsg(), "outside the range hant can cost"),
            "a bandwidth of 1e-20 is refused: %s", hant_errmsg());
      hant_device_destroy(dd);
      dd = NULL;
      snprintf(buf, sizeof(buf), "%.*s 1e-5%s", (int)(num_end - t), t, after);
      CHECK(hant_device_parse(buf, strlen(buf), "edge.json", &dd) == 0, "a bandwidth of 1e-5 MB/s is accepted: %s",
            hant_errmsg());
      hant_device_destroy(dd);
    }
    free(t);
  }

  /* Not JSON, duplicate keys, a bare number where a quantity belongs. */
  hant_device *d = NULL;
  CHECK(hant_device_parse("{\"name\": ", 9, "trunc.json", &d) == HANT_EFORMAT && strstr(hant_errmsg(), "trunc.json:1:"),
        "truncated JSON: %s", hant_errmsg());
  const char *dup = "{\"name\": \"a\", \"name\": \"b\"}";
  CHECK(hant_device_parse(dup, strlen(dup), "dup.json", &d) == HANT_EFORMAT, "duplicate keys accepted");
  const char *bare = "{\"name\": \"x\", \"description\": \"x\", \"kind\": \"cpu\", \"precision\": \"fp32\", "
                     "\"compute\": {\"fp32\": 12}}";
  CHECK(hant_device_parse(bare, strlen(bare), "bare.json", &d) == HANT_EFORMAT &&
            strstr(hant_errmsg(), "compute.fp32: expected an object {\"value\""),
        "bare number: %s", hant_errmsg());
  /* Oversized input is refused before parsing. */
  size_t big = HANT_DEVICE_MAX_BYTES + 1;
  char *b = malloc(big + 1);
  memset(b, ' ', big);
  b[big] = 0;
  CHECK(hant_device_parse(b, big, "big.json", &d) == HANT_ELIMIT, "oversized profile accepted");
  free(b);
}

static void test_shipped(void) {
  static const char *const names[] = {"host", "rpi4", "jetson-nano", "cortex-m7", "coral-edgetpu", "eyeriss",
                                      "imec-aimc"};
  char dir[1024];
  snprintf(dir, sizeof(dir), "%s/devices", src_dir);
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    hant_device *d = NULL;
    int rc = hant_device_find(dir, names[i], &d);
    CHECK(rc == 0 && d, "%s: %s", names[i], hant_errmsg());
    if (!d)
      continue;
    CHECK(!strcmp(d->name, names[i]), "%s: name %s", names[i], d->name);
    CHECK(d->peak_gops[d->precision] > 0 && d->pj_per_mac[d->precision] > 0 && d->n_levels >= 1,
          "%s: incomplete", names[i]);
    CHECK(d->idle_w <= d->active_w, "%s: idle above active", names[i]);
    if (!strcmp(names[i], "jetson-nano")) {
      CHECK(d->n_modes == 2 && hant_device_mode_find(d, "10W") == 0 && hant_device_mode_find(d, "5W") == 1,
            "jetson-nano: modes 10W and 5W expected");
      hant_device_point p10, p5;
      hant_device_point_get(d, 0, &p10);
      hant_device_point_get(d, 1, &p5);
      CHECK(p5.peak_gops[HANT_PREC_FP16] < p10.peak_gops[HANT_PREC_FP16] && p5.active_w == 5 && p10.active_w == 10,
            "jetson-nano: 5W mode must be slower and capped at 5 W");
    }
    if (!strcmp(names[i], "coral-edgetpu"))
      CHECK(d->precision == HANT_PREC_INT8 && t_near(d->peak_gops[HANT_PREC_INT8], 4000, 0, 1e-9),
            "coral: 4 TOPS int8 expected");
    if (!strcmp(names[i], "eyeriss"))
      CHECK(d->array_cols == 16 && t_near(d->peak_gops[HANT_PREC_INT16], 67.2, 0, 1e-9), "eyeriss: 16-wide, 168 PEs x 200 MHz");
    if (!strcmp(names[i], "imec-aimc"))
      CHECK(t_near(2.0 / d->pj_per_mac[HANT_PREC_INT8], 2900, 0, 0.01) && d->weights_stationary,
            "imec: 2,900 TOPS/W expected, got %g", 2.0 / d->pj_per_mac[HANT_PREC_INT8]);
    hant_device_destroy(d);
  }
}

static void test_units_and_clusters(void) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/tests/costs/data/biglittle.json", src_dir);
  hant_device *d = NULL;
  int rc = hant_device_load(path, &d);
  CHECK(rc == 0, "biglittle: %s", hant_errmsg());
  if (rc)
    return;
  CHECK(t_near(d->overhead_us, 5.0, 1e-12, 0), "5000 ns should be 5 us, got %g", d->overhead_us);
  CHECK(t_near(d->idle_w, 0.3, 1e-12, 0), "300 mW should be 0.3 W");
  CHECK(t_near(d->levels[0].bandwidth_gbps, 25.6, 1e-9, 0), "25600 MB/s should be 25.6 GB/s");
  CHECK(t_near(d->levels[0].capacity_bytes, 8.0 * 1073741824.0, 1, 0), "8 GiB");
  CHECK(t_near(d->levels[0].pj_per_byte, 160, 1e-9, 0) && t_near(d->levels[1].pj_per_byte, 2.5, 1e-9, 0), "nJ/B, fJ/B");
  CHECK(d->sequential && d->n_clusters == 2 && t_near(d->clusters[1].clock_mhz, 1800, 0, 1e-12), "clusters");
  hant_device_point big, little;
  hant_device_point_get(d, 0, &big);
  hant_device_point_get(d, 1, &little);
  CHECK(t_near(big.peak_gops[HANT_PREC_FP32], 200, 0, 1e-12) && t_near(little.peak_gops[HANT_PREC_FP32], 28.8, 0, 1e-12),
        "modes bound to clusters take the cluster's peak");
  CHECK(little.bandwidth_scale == 0.5 && little.energy_scale == 0.4 && little.active_w == 1.2, "little mode scales");
  hant_device_destroy(d);

  /* A mode naming an unknown cluster. */
  size_t len;
  char *t = slurp(path, &len);
  char *p = t ? strstr(t, "\"cluster\": \"little\"") : NULL;
  CHECK(p != NULL, "fixture changed");
  if (p) {
    memcpy(p + 12, "LITTLE", 6);
    CHECK(hant_device_parse(t, len, "x.json", &d) == HANT_EFORMAT &&
              strstr(hant_errmsg(), "power_modes[1].cluster: no cluster is named \"LITTLE\""),
          "unknown cluster: %s", hant_errmsg());
  }
  free(t);
}

static void test_search_path(void) {
  /* A user adds a device by dropping a profile into a directory: no code change. */
  char dir[] = "/tmp/hant-devices-XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  char src[1024], dst[1100];
  snprintf(src, sizeof(src), "%s/tests/costs/data/biglittle.json", src_dir);
  snprintf(dst, sizeof(dst), "%s/myboard.json", dir);
  size_t len;
  char *t = slurp(src, &len);
  char *p = t ? strstr(t, "\"name\": \"biglittle\"") : NULL;
  CHECK(p != NULL, "fixture changed");
  if (!p) {
    free(t);
    return;
  }
  FILE *f = fopen(dst, "w");
  fprintf(f, "%.*s\"name\": \"myboard\"%s", (int)(p - t), t, p + strlen("\"name\": \"biglittle\""));
  fclose(f);
  setenv("HANT_DEVICES", dir, 1);
  hant_device *d = NULL;
  CHECK(hant_device_find(NULL, "myboard", &d) == 0 && d && !strcmp(d->name, "myboard"), "HANT_DEVICES: %s",
        hant_errmsg());
  hant_device_destroy(d);
  char(*names)[64] = NULL;
  int n = 0;
  CHECK(hant_device_list(NULL, &names, &n) == 0, "list");
  bool seen = false;
  for (int i = 0; i < n; i++)
    seen |= !strcmp(names[i], "myboard");
  CHECK(seen, "listed profiles lack myboard");
  free(names);
  /* The file name and the name field must agree. */
  snprintf(dst, sizeof(dst), "%s/other.json", dir);
  f = fopen(dst, "w");
  fputs(t, f);
  fclose(f);
  CHECK(hant_device_find(NULL, "other", &d) == HANT_EFORMAT && strstr(hant_errmsg(), "other.json: name:"),
        "name mismatch: %s", hant_errmsg());
  CHECK(hant_device_find(NULL, "no-such-board", &d) == HANT_ENOENT && strstr(hant_errmsg(), dir),
        "missing profile should name the directories searched: %s", hant_errmsg());
  CHECK(hant_device_find(NULL, "../etc/passwd", &d) == HANT_EINVAL, "path in a device name accepted");
  unsetenv("HANT_DEVICES");
  remove(dst);
  snprintf(dst, sizeof(dst), "%s/myboard.json", dir);
  remove(dst);
  rmdir(dir);
  free(t);
}

int main(int argc, char **argv) {
  src_dir = argc > 1 ? argv[1] : "..";
  test_refusals();
  test_shipped();
  test_units_and_clusters();
  test_search_path();
  return test_summary("device");
}
