/* SPDX-License-Identifier: MIT */
/* fuzz_netfile.c: fuzz target for the native network file parser, with a standalone random/mutation driver. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "arch.h"
#include "hant.h"
#include "net.h"
#include "netfile.h"
#include "rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long loaded_count; /* inputs that parsed, for the driver's summary */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hant_net *net = (hant_net *)(uintptr_t)1;
  char *meta = (char *)(uintptr_t)1;
  hant_errmsg_clear();
  int rc = hant_netfile_parse(data, size, "fuzz", &net, &meta);
  if (rc) {
    /* Refused: nothing handed out, and a message unless memory ran out. */
    if (net || meta || (rc != HANT_ENOMEM && !hant_errmsg()[0]))
      abort();
    return 0;
  }
  if (!net || !meta || !net->arch || net->n_nodes < 1)
    abort();
  loaded_count++;
  /* A network that loads must also run. Keep it to small ones. */
  const hant_node *in = &net->nodes[0];
  size_t nx = (size_t)in->c * in->h * in->w;
  if (nx <= (1u << 14) && hant_net_macs(net) <= 2e6) {
    float *x = malloc(2 * nx * sizeof(float));
    if (x) {
      for (size_t i = 0; i < 2 * nx; i++)
        x[i] = (float)(i % 7) * 0.25f - 0.5f;
      hant_pass p;
      hant_pass_init(&p);
      p.act.block_bytes = p.tmp.block_bytes = (size_t)1 << 20; /* small nets: no 64 MiB blocks */
      rc = hant_net_forward(net, &p, x, 2, false);
      if (rc && rc != HANT_ENOMEM)
        abort();
      hant_pass_free(&p);
      free(x);
    }
  }
  hant_net_destroy(net);
  free(meta);
  return 0;
}

#ifndef HANT_LIBFUZZER
/* Standalone driver (fuzz_driver.h): runs the files named on the command
 * line, or with --random SECONDS [--seed N] mutates valid files built
 * here for that long, recomputing the checksum of most mutants so that
 * the structural checks behind it are reached. A crashing input is saved
 * to fuzz_netfile-crash.bin in the working directory.
 *
 * The architecture text decides how much memory the parser allocates
 * before it can compare it with the file (a few bytes of text can ask
 * for gigabytes), so this driver caps the process's memory: such inputs
 * then fail cleanly with HANT_ENOMEM instead of exhausting the machine. */

#define FUZZ_NAME "fuzz_netfile"
#include "fuzz_driver.h"

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_crc(uint8_t *p, size_t n) {
  if (n >= 12)
    put_le32(p + n - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)(n - 4)));
}

/* A file saved by hant_netfile_save for a small architecture. */
static seed saved_file(const char *arch, const char *meta, uint64_t rs) {
  char dir[64], path[128];
  snprintf(dir, sizeof(dir), "%s", "/tmp/hant_fuzz_netfile.XXXXXX");
  seed s = {NULL, 0};
  hant_net *net = hant_arch_build(arch, "seed");
  if (!net || !mkdtemp(dir))
    abort();
  hant_rng r;
  hant_rng_seed(&r, rs);
  hant_net_init_params(net, &r);
  snprintf(path, sizeof(path), "%s/seed.hnet", dir);
  if (hant_netfile_save(net, meta, path))
    abort();
  hant_net_destroy(net);
  FILE *f = fopen(path, "rb");
  if (!f)
    abort();
  fseek(f, 0, SEEK_END);
  s.n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  s.p = malloc(s.n);
  if (!s.p || fread(s.p, 1, s.n, f) != s.n)
    abort();
  fclose(f);
  unlink(path);
  rmdir(dir);
  return s;
}

/* A file with the given architecture text and no parameters. */
static size_t craft(const char *arch, uint8_t *out, size_t cap) {
  size_t al = strlen(arch), n = 8 + 4 + 4 + al + 4 + 4 + 4;
  if (n > cap)
    return 0;
  memcpy(out, "HANTNET1", 8);
  put_le32(out + 8, 1);
  put_le32(out + 12, (uint32_t)al);
  memcpy(out + 16, arch, al);
  put_le32(out + 16 + al, 0);     /* metadata length */
  put_le32(out + 20 + al, 0);     /* parameter count */
  fix_crc(out, n);
  return n;
}

static const char *const acts[] = {"relu", "relu6", "hswish", "none", "gelu"};

/* A random, mostly well-formed, small architecture description. */
static void random_arch(char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "input %dx%dx%d", 1 + (int)fuzz_below(4),
                              1 + (int)fuzz_below(20), 1 + (int)fuzz_below(20));
  int lines = 1 + (int)fuzz_below(7);
  for (int i = 0; i < lines && n + 80 < cap; i++) {
    int c = 1 + (int)fuzz_below(24), k = 1 + (int)fuzz_below(5), s = 1 + (int)fuzz_below(3);
    const char *a = acts[fuzz_below(5)];
    const char *sep = fuzz_below(2) ? "; " : "\n";
    switch (fuzz_below(12)) {
    case 0:
      n += (size_t)snprintf(buf + n, cap - n, "%sconv %d k=%d s=%d g=%d act=%s bn=%d", sep, c, k, s,
                            1 + (int)fuzz_below(4), a, (int)fuzz_below(2));
      break;
    case 1:
      n += (size_t)snprintf(buf + n, cap - n, "%sconv %d", sep, c);
      break;
    case 2:
      n += (size_t)snprintf(buf + n, cap - n, "%sres %d s=%d k=%d mid=%d", sep, c, s, k, 1 + (int)fuzz_below(16));
      break;
    case 3:
      n += (size_t)snprintf(buf + n, cap - n, "%sir %d e=%d k=%d s=%d act=%s", sep, c, 1 + (int)fuzz_below(6), k, s, a);
      break;
    case 4:
      n += (size_t)snprintf(buf + n, cap - n, "%sdws %d k=%d s=%d", sep, c, k, s);
      break;
    case 5:
      n += (size_t)snprintf(buf + n, cap - n, "%slinear %d act=%s", sep, c, a);
      break;
    case 6:
      n += (size_t)snprintf(buf + n, cap - n, "%s%s k=%d s=%d p=%d", sep, fuzz_below(2) ? "maxpool" : "avgpool", k, s,
                            (int)fuzz_below(3));
      break;
    case 7:
      n += (size_t)snprintf(buf + n, cap - n, "%sgap", sep);
      break;
    case 8:
      n += (size_t)snprintf(buf + n, cap - n, "%sflatten", sep);
      break;
    case 9:
      n += (size_t)snprintf(buf + n, cap - n, "%sidentity", sep);
      break;
    case 10:
      n += (size_t)snprintf(buf + n, cap - n, "%sconv %d k=%d # comment; not a layer", sep, c, k);
      break;
    default:
      n += (size_t)snprintf(buf + n, cap - n, "%sres %d bogus=%d", sep, c, k);
      break;
    }
  }
}

static const char *const tokens[] = {"conv", "res", "ir", "dws", "linear", "identity", "maxpool", "avgpool", "gap",
                                     "flatten", "input", "k=", "s=", "g=", "p=", "e=", "mid=", "act=", "bn=",
                                     "relu6", "hswish", "none", ";", "\n", "#", " ", "0", "1", "7", "16", "x",
                                     "65536", "-1", "99999999999", "1x1x1", "=", "\t", "\0"};

/* Edits architecture text: token insertions, deletions, digit changes. */
static size_t mutate_text(char *t, size_t len, size_t cap) {
  int edits = 1 + (int)fuzz_below(3);
  for (int e = 0; e < edits; e++) {
    size_t at = len ? fuzz_below((uint32_t)len + 1) : 0;
    switch (fuzz_below(4)) {
    case 0: { /* insert a token */
      const char *tok = tokens[fuzz_below(sizeof(tokens) / sizeof(tokens[0]))];
      size_t k = tok[0] ? strlen(tok) : 1;
      if (len + k > cap)
        break;
      memmove(t + at + k, t + at, len - at);
      memcpy(t + at, tok, k);
      len += k;
      break;
    }
    case 1: { /* delete a few characters */
      size_t k = at < len ? 1 + fuzz_below((uint32_t)(len - at < 6 ? len - at : 6)) : 0;
      memmove(t + at, t + at + k, len - at - k);
      len -= k;
      break;
    }
    case 2: /* a digit */
      if (at < len)
        t[at] = (char)('0' + fuzz_below(10));
      break;
    default: /* any byte */
      if (at < len)
        t[at] = (char)fuzz_next();
      break;
    }
  }
  return len;
}

/* Byte-level edits anywhere in the file; returns the new length. */
static size_t mutate_bytes(uint8_t *buf, size_t len, size_t cap) {
  static const uint32_t vals[] = {0, 1, 2, 3, 4, 7, 64, 255, 256, 0xffff, 0x10000, 0x7fffffff, 0x80000000u,
                                  0xfffffffcu, 0xffffffffu};
  int edits = 1 + (int)fuzz_below(3);
  for (int e = 0; e < edits; e++) {
    size_t at = len ? fuzz_below((uint32_t)len) : 0;
    switch (fuzz_below(7)) {
    case 0:
      if (len)
        buf[at] ^= (uint8_t)(1u << fuzz_below(8));
      break;
    case 1: /* an interesting little-endian u32, often on a length field */
      if (fuzz_below(2) && len >= 16)
        at = 8 + 4 * fuzz_below(2);
      if (at + 4 <= len)
        put_le32(buf + at, vals[fuzz_below(sizeof(vals) / sizeof(vals[0]))]);
      break;
    case 2:
      len = at;
      break;
    case 3: { /* delete a range */
      size_t k = len - at ? 1 + fuzz_below((uint32_t)(len - at < 64 ? len - at : 64)) : 0;
      memmove(buf + at, buf + at + k, len - at - k);
      len -= k;
      break;
    }
    case 4: { /* insert bytes */
      size_t k = 1 + fuzz_below(8);
      if (len + k > cap)
        break;
      memmove(buf + at + k, buf + at, len - at);
      for (size_t i = 0; i < k; i++)
        buf[at + i] = (uint8_t)fuzz_next();
      len += k;
      break;
    }
    case 5: /* a float 1e30, NaN or inf in the parameters */
      if (at + 4 <= len) {
        static const uint32_t fl[] = {0x7149f2ca, 0x7fc00000, 0x7f800000, 0xff800000, 0x80000000};
        put_le32(buf + at, fl[fuzz_below(5)]);
      }
      break;
    default:
      if (len)
        buf[at] = (uint8_t)fuzz_next();
      break;
    }
  }
  return len;
}

/* Replaces the architecture text of a file by a mutated copy, keeping the rest. */
static size_t mutate_arch(const seed *s, uint8_t *out, size_t cap) {
  uint32_t al = get_le32(s->p + 12);
  char text[1024];
  if (al >= sizeof(text) - 64 || 16 + (size_t)al > s->n)
    return 0;
  memcpy(text, s->p + 16, al);
  size_t tl = mutate_text(text, al, sizeof(text));
  size_t rest = s->n - 16 - al;
  if (16 + tl + rest > cap)
    return 0;
  memcpy(out, s->p, 12);
  put_le32(out + 12, (uint32_t)tl);
  memcpy(out + 16, text, tl);
  memcpy(out + 16 + tl, s->p + 16 + al, rest);
  return 16 + tl + rest;
}

static const char *const archs[] = {
    "input 1x8x8; conv 4; gap; linear 3",
    "input 3x8x8; conv 8; res 8; res 16 s=2; ir 16 e=2; dws 24; maxpool k=2; flatten; linear 5",
    "input 2x9x7\nconv 6 k=5 g=2 act=hswish\navgpool k=3 s=2 p=1\nidentity\ngap\nlinear 4 act=relu6",
    "input 1x28x28; conv 8 s=2; res 16 s=2; gap; linear 10",
};

/* Files saved for small architectures, every other one with metadata. */
static int make_seeds(seed *pool, size_t *n, size_t cap) {
  for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]) && *n < cap; i++)
    pool[(*n)++] = saved_file(archs[i], i % 2 ? "{\"seed\": true}" : NULL, (uint64_t)i + 1);
  return 0;
}

/* A random architecture in a file of its own, a seed's architecture text
 * edited, or bytes edited anywhere; then, mostly, a valid checksum. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
  switch (fuzz_below(4)) {
  case 0: { /* a random architecture, no parameters */
    char arch[1024];
    random_arch(arch, sizeof(arch));
    len = craft(arch, buf, cap);
    break;
  }
  case 1: { /* the architecture text edited */
    seed s = {malloc(len ? len : 1), len};
    if (!s.p)
      return 0;
    memcpy(s.p, buf, len);
    len = mutate_arch(&s, buf, cap);
    free(s.p);
    break;
  }
  default: /* bytes edited anywhere */
    len = mutate_bytes(buf, len, cap);
    break;
  }
  if (fuzz_below(8))
    fix_crc(buf, len);
  return len;
}

static const fuzz_target target = {.make_seeds = make_seeds, .mutate = mutate, .accepted = &loaded_count};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
