/* SPDX-License-Identifier: MIT */
/* test_netfile.c: native network files round-trip exactly, and corrupt or mismatched files are refused with clear messages. */
#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "arch.h"
#include "hant.h"
#include "net.h"
#include "netfile.h"
#include "test_util.h"

static char dir[64];
static char good_path[128], bad_path[128];

#define ARCH "input 1x8x8; conv 4; gap; linear 3"
#define META "{\"trained\": \"test\"}"

typedef struct bytes {
  uint8_t *p;
  size_t n;
} bytes;

static bytes read_all(const char *path) {
  bytes b = {NULL, 0};
  FILE *f = fopen(path, "rb");
  HANT_ASSERT(f);
  fseek(f, 0, SEEK_END);
  b.n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  b.p = malloc(b.n + 64);
  HANT_ASSERT(b.p && fread(b.p, 1, b.n, f) == b.n);
  fclose(f);
  return b;
}

static void write_all(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  HANT_ASSERT(f && fwrite(p, 1, n, f) == n && fclose(f) == 0);
}

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Rewrites the trailing CRC-32 so a crafted file gets past the checksum
 * to the structural checks. */
static void fix_crc(bytes *b) {
  uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b->p, (uInt)(b->n - 4));
  put_le32(b->p + b->n - 4, c);
}

/* A copy of a saved file with its architecture text replaced (and the
 * length field and CRC updated). Layout: magic 8 | version 4 | arch_len 4 | arch | ... */
static bytes splice_arch(const bytes *src, const char *arch) {
  uint32_t alen = get_le32(src->p + 12);
  size_t nl = strlen(arch), rest = src->n - 16 - alen;
  bytes b = {malloc(16 + nl + rest), 16 + nl + rest};
  HANT_ASSERT(b.p);
  memcpy(b.p, src->p, 12);
  put_le32(b.p + 12, (uint32_t)nl);
  memcpy(b.p + 16, arch, nl);
  memcpy(b.p + 16 + nl, src->p + 16 + alen, rest);
  fix_crc(&b);
  return b;
}

static hant_net *make_net(const char *arch, uint64_t seed) {
  hant_net *net = hant_arch_build(arch, "netfile");
  HANT_ASSERT(net);
  hant_rng rng;
  hant_rng_seed(&rng, seed);
  hant_net_init_params(net, &rng);
  /* Every parameter non-trivial, including BN statistics and biases. */
  for (int i = 0; i < net->n_params; i++) {
    hant_param *p = &net->params[i];
    bool positive = strstr(p->name, "running_var") || strstr(p->name, "gamma");
    for (size_t j = 0; j < p->n; j++)
      if (positive)
        p->w[j] = 0.5f + hant_rng_uniform(&rng);
      else if (!p->decay)
        p->w[j] = 0.3f * hant_rng_normal(&rng);
  }
  return net;
}

/* Loads bytes written to bad_path and expects `want` with `needle` (and the path) in the message. */
static void expect_refused(const char *what, const uint8_t *p, size_t n, int want, const char *needle) {
  write_all(bad_path, p, n);
  hant_net *net = (hant_net *)(uintptr_t)1;
  char *meta = (char *)(uintptr_t)1;
  hant_errmsg_clear();
  int rc = hant_netfile_load(bad_path, &net, &meta);
  const char *msg = hant_errmsg();
  CHECK(rc == want, "%s: returned %s, expected %s (%s)", what, hant_err_name(rc), hant_err_name(want), msg);
  CHECK(strstr(msg, needle) != NULL, "%s: message '%s' does not say '%s'", what, msg, needle);
  CHECK(strstr(msg, bad_path) != NULL, "%s: message '%s' does not name the file", what, msg);
  CHECK(net == NULL && meta == NULL, "%s: outputs not cleared on failure", what);
  if (rc == 0) {
    hant_net_destroy(net);
    free(meta);
  }
}

static float *eval(hant_net *net, const float *x, int n, size_t *cnt) {
  hant_pass p;
  hant_pass_init(&p);
  int rc = hant_net_forward(net, &p, x, n, false);
  HANT_ASSERT(rc == 0);
  const hant_node *o = &net->nodes[hant_net_output(net)];
  *cnt = (size_t)n * o->c * o->h * o->w;
  float *y = malloc(*cnt * sizeof(float));
  HANT_ASSERT(y);
  memcpy(y, p.out[hant_net_output(net)], *cnt * sizeof(float));
  hant_pass_free(&p);
  return y;
}

static int count_dir_entries(void) {
  DIR *d = opendir(dir);
  int k = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    k += e->d_name[0] != '.';
  if (d)
    closedir(d);
  return k;
}

static void test_round_trip(const char *arch) {
  hant_net *net = make_net(arch, 42);
  int rc = hant_netfile_save(net, META, good_path);
  CHECK(rc == 0, "save '%s': %s", arch, hant_errmsg());
  CHECK(count_dir_entries() == 1, "save left %d files (temporary not renamed?)", count_dir_entries());
  hant_net *back = NULL;
  char *meta = NULL;
  rc = hant_netfile_load(good_path, &back, &meta);
  CHECK(rc == 0 && back, "load '%s': %s", arch, hant_errmsg());
  if (!back) {
    hant_net_destroy(net);
    return;
  }
  CHECK(meta && !strcmp(meta, META), "metadata came back as '%s'", meta ? meta : "(null)");
  CHECK(back->arch && !strcmp(back->arch, arch), "architecture text changed");
  CHECK(back->n_params == net->n_params && back->n_nodes == net->n_nodes && back->n_slots == net->n_slots,
        "structure changed: %d/%d params, %d/%d nodes", back->n_params, net->n_params, back->n_nodes, net->n_nodes);
  int same = 0;
  for (int i = 0; i < net->n_params && i < back->n_params; i++) {
    const hant_param *a = &net->params[i], *b = &back->params[i];
    same += !strcmp(a->name, b->name) && a->n == b->n && !memcmp(a->w, b->w, a->n * sizeof(float)) &&
            a->trainable == b->trainable;
  }
  CHECK(same == net->n_params, "%d of %d parameters differ after the round trip", net->n_params - same,
        net->n_params);

  const hant_node *in = &net->nodes[0];
  int n = 3;
  size_t nx = (size_t)n * in->c * in->h * in->w, c1, c2;
  float *x = malloc(nx * sizeof(float));
  hant_rng rng;
  hant_rng_seed(&rng, 9);
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_normal(&rng);
  float *y1 = eval(net, x, n, &c1), *y2 = eval(back, x, n, &c2);
  CHECK(c1 == c2 && !memcmp(y1, y2, c1 * sizeof(float)), "eval outputs differ after the round trip");
  free(x), free(y1), free(y2);
  free(meta);

  /* Without metadata, and loading without asking for it. */
  rc = hant_netfile_save(net, NULL, good_path);
  hant_net_destroy(back);
  back = NULL;
  meta = (char *)(uintptr_t)1;
  rc = rc ? rc : hant_netfile_load(good_path, &back, &meta);
  CHECK(rc == 0 && meta && meta[0] == '\0', "no-metadata round trip: %s", hant_errmsg());
  if (rc == 0)
    free(meta);
  hant_net_destroy(back);
  back = NULL;
  rc = hant_netfile_load(good_path, &back, NULL);
  CHECK(rc == 0 && back, "load with meta NULL: %s", hant_errmsg());
  hant_net_destroy(back);
  hant_net_destroy(net);
}

static void test_refusals(void) {
  hant_net *net = make_net(ARCH, 5);
  HANT_ASSERT(hant_netfile_save(net, META, good_path) == 0);
  bytes good = read_all(good_path);
  bytes b = {malloc(good.n + 64), good.n};
  HANT_ASSERT(b.p);

  /* One flipped bit in the parameter data. */
  memcpy(b.p, good.p, good.n);
  b.p[good.n - 20] ^= 0x10;
  expect_refused("one corrupt byte", b.p, b.n, HANT_EFORMAT, "checksum");
  memcpy(b.p, good.p, good.n);
  b.p[20] ^= 0x01; /* inside the architecture text */
  expect_refused("corrupt architecture byte", b.p, b.n, HANT_EFORMAT, "checksum");

  /* Truncations at several depths. */
  expect_refused("last 37 bytes cut", good.p, good.n - 37, HANT_EFORMAT, "checksum");
  expect_refused("cut after the header", good.p, 14, HANT_EFORMAT, "truncated");
  expect_refused("cut inside the magic", good.p, 5, HANT_EFORMAT, "magic");
  expect_refused("empty file", good.p, 0, HANT_EFORMAT, "magic");

  memcpy(b.p, good.p, good.n);
  memcpy(b.p, "HANTNET2", 8);
  expect_refused("wrong magic", b.p, b.n, HANT_EFORMAT, "magic");
  memcpy(b.p, "\x89PNG\r\n\x1a\n", 8);
  expect_refused("a PNG header", b.p, b.n, HANT_EFORMAT, "magic");

  /* Structural errors behind a valid checksum. */
  memcpy(b.p, good.p, good.n);
  put_le32(b.p + 8, 7);
  fix_crc(&b);
  expect_refused("format version 7", b.p, b.n, HANT_ENOTSUP, "version 7");

  memcpy(b.p, good.p, good.n);
  put_le32(b.p + 12, 0x7fffffff);
  fix_crc(&b);
  expect_refused("architecture length past the end", b.p, b.n, HANT_EFORMAT, "truncated while reading architecture");

  memcpy(b.p, good.p, good.n);
  b.p[16 + 3] = '\0'; /* a NUL inside the architecture text */
  fix_crc(&b);
  expect_refused("NUL in the architecture", b.p, b.n, HANT_EFORMAT, "NUL");

  bytes s = splice_arch(&good, "input 1x8x8; conv 5; gap; linear 3");
  expect_refused("conv width 5 where the file has 4", s.p, s.n, HANT_EFORMAT, "values, the architecture expects");
  free(s.p);
  s = splice_arch(&good, "input 1x8x8; conv 4 bn=0; gap; linear 3");
  expect_refused("architecture with fewer parameter tensors", s.p, s.n, HANT_EFORMAT, "parameter tensors");
  free(s.p);
  s = splice_arch(&good, "input 1x8x8; conv 4 act=none; gap; linear 3");
  expect_refused("parameters named for other nodes", s.p, s.n, HANT_EFORMAT, "the architecture expects 'n4.weight'");
  free(s.p);
  s = splice_arch(&good, "input 1x8x8; conv 4; gap; lineer 3");
  expect_refused("unknown layer in the architecture", s.p, s.n, HANT_EFORMAT, "lineer");
  free(s.p);
  s = splice_arch(&good, "");
  expect_refused("empty architecture", s.p, s.n, HANT_EFORMAT, "architecture invalid");
  free(s.p);

  /* A NaN weight: the last parameter's last value sits just before the CRC. */
  memcpy(b.p, good.p, good.n);
  uint32_t nan_bits = 0x7fc00000u;
  memcpy(b.p + good.n - 8, &nan_bits, 4);
  fix_crc(&b);
  expect_refused("NaN parameter", b.p, b.n, HANT_EFORMAT, "not finite");

  /* Extra bytes between the parameters and the checksum. */
  memcpy(b.p, good.p, good.n - 4);
  memset(b.p + good.n - 4, 0, 3);
  b.n = good.n + 3;
  fix_crc(&b);
  expect_refused("3 bytes after the parameters", b.p, b.n, HANT_EFORMAT, "unexpected bytes");
  b.n = good.n;

  /* Missing file; a net without architecture text; an unwritable path. */
  hant_net *out = NULL;
  int rc = hant_netfile_load(dir, &out, NULL);
  CHECK(rc < 0 && out == NULL, "loading a directory succeeded");
  char missing[160];
  snprintf(missing, sizeof(missing), "%s/missing.hnet", dir);
  rc = hant_netfile_load(missing, &out, NULL);
  CHECK(rc == HANT_ENOENT && strstr(hant_errmsg(), missing), "missing file: %s '%s'", hant_err_name(rc),
        hant_errmsg());
  hant_net *bare = hant_net_new(1, 4, 4);
  rc = hant_netfile_save(bare, NULL, missing);
  CHECK(rc == HANT_EINVAL && strstr(hant_errmsg(), "architecture"), "saving a net without arch text: %s '%s'",
        hant_err_name(rc), hant_errmsg());
  hant_net_destroy(bare);
  snprintf(missing, sizeof(missing), "%s/no/such/dir/x.hnet", dir);
  rc = hant_netfile_save(net, NULL, missing);
  CHECK(rc == HANT_EIO && strstr(hant_errmsg(), "no/such/dir"), "saving into a missing directory: %s '%s'",
        hant_err_name(rc), hant_errmsg());

  /* The parser on memory names what it was given. */
  rc = hant_netfile_parse(good.p, good.n - 1, "membuf", &out, NULL);
  CHECK(rc == HANT_EFORMAT && strstr(hant_errmsg(), "membuf"), "parse of a cut buffer: %s '%s'", hant_err_name(rc),
        hant_errmsg());
  rc = hant_netfile_parse(good.p, good.n, "membuf", &out, NULL);
  CHECK(rc == 0 && out, "parse of the good buffer: %s", hant_errmsg());
  hant_net_destroy(out);

  free(good.p);
  free(b.p);
  hant_net_destroy(net);
}

int main(void) {
  snprintf(dir, sizeof(dir), "%s", "/tmp/hant_test_netfile.XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(good_path, sizeof(good_path), "%s/good.hnet", dir);
  snprintf(bad_path, sizeof(bad_path), "%s/bad.hnet", dir);
  test_round_trip(ARCH);
  test_round_trip("input 3x8x8; conv 8; res 8; res 16 s=2; ir 16 e=2; dws 24; maxpool k=2; flatten; linear 5");
  test_round_trip(hant_arch_preset("mbv2"));
  test_refusals();
  unlink(good_path);
  unlink(bad_path);
  CHECK(rmdir(dir) == 0, "temporary directory %s not empty after the test", dir);
  return test_summary("netfile");
}
