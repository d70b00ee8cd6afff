/* SPDX-License-Identifier: MIT */
/* netfile.c: reads and writes the native format; every length is checked before it is trusted. */
#include "netfile.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "arch.h"
#include "atomicfile.h"
#include "base.h"
#include "file.h"

/* Layout (little-endian):
 *   "HANTNET1" | u32 version | u32 arch_len | arch | u32 meta_len | meta |
 *   u32 n_params | n_params x (u16 name_len | name | u32 count | f32[count]) |
 *   u32 crc32 of all preceding bytes */
static const char MAGIC[8] = {'H', 'A', 'N', 'T', 'N', 'E', 'T', '1'};
#define VERSION 1u

typedef struct wbuf {
  uint8_t *p;
  size_t len, cap;
  bool oom;
} wbuf;

static void put(wbuf *b, const void *data, size_t n) {
  if (b->oom)
    return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
      cap *= 2;
    uint8_t *np = realloc(b->p, cap);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static void put32(wbuf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(b, x, 4);
}

int hant_netfile_encode(const hant_net *net, const char *meta, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (!net->arch)
    return hant__error(HANT_EINVAL, "the network has no architecture text to save (save it as ONNX)");
  if (net->folded)
    return hant__error(HANT_EINVAL, "the network's batch norms are folded, so its parameters no longer match its "
                                    "architecture text (save it as ONNX, or save before folding)");
  wbuf b = {0};
  size_t alen = strlen(net->arch), mlen = meta ? strlen(meta) : 0;
  put(&b, MAGIC, 8);
  put32(&b, VERSION);
  put32(&b, (uint32_t)alen);
  put(&b, net->arch, alen);
  put32(&b, (uint32_t)mlen);
  put(&b, meta ? meta : "", mlen);
  put32(&b, (uint32_t)net->n_params);
  for (int i = 0; i < net->n_params; i++) {
    const hant_param *p = &net->params[i];
    uint16_t nl = (uint16_t)strlen(p->name);
    uint8_t x[2] = {(uint8_t)nl, (uint8_t)(nl >> 8)};
    put(&b, x, 2);
    put(&b, p->name, nl);
    put32(&b, (uint32_t)p->n);
    put(&b, p->w, p->n * sizeof(float)); /* hant runs on little-endian hosts only */
  }
  if (b.oom) {
    free(b.p);
    return HANT_ENOMEM;
  }
  put32(&b, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b.p, (uInt)b.len));
  if (b.oom) {
    free(b.p);
    return HANT_ENOMEM;
  }
  *out = b.p;
  *out_len = b.len;
  return 0;
}

int hant_netfile_save(const hant_net *net, const char *meta, const char *path) {
  uint8_t *buf;
  size_t len;
  int rc = hant_netfile_encode(net, meta, &buf, &len);
  if (rc)
    return rc == HANT_EINVAL ? hant__error(rc, "%s: %s", path, hant_errmsg()) : rc;
  rc = hant_file_write_atomic(path, buf, len);
  free(buf);
  return rc;
}

typedef struct reader {
  const uint8_t *p, *end;
  const char *name;
} reader;

static int need(reader *r, size_t n, const char *what) {
  if ((size_t)(r->end - r->p) < n)
    return hant__error(HANT_EFORMAT, "%s: truncated while reading %s", r->name, what);
  return 0;
}

static int get32(reader *r, uint32_t *v, const char *what) {
  int rc = need(r, 4, what);
  if (rc)
    return rc;
  *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
  r->p += 4;
  return 0;
}

int hant_netfile_parse(const uint8_t *data, size_t len, const char *name, hant_net **out, char **meta) {
  reader r = {data, data + len, name};
  hant_net *net = NULL;
  char *arch = NULL, *m = NULL;
  uint32_t ver, alen, mlen, np;
  int rc;
  *out = NULL;
  if (meta)
    *meta = NULL;
  if (len < 8 || memcmp(data, MAGIC, 8))
    return hant__error(HANT_EFORMAT, "%s: not a hant network file (bad magic)", name);
  if (len < 8 + 4 + 4)
    return hant__error(HANT_EFORMAT, "%s: truncated header", name);
  uint32_t want = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 | (uint32_t)data[len - 2] << 16 |
                  (uint32_t)data[len - 1] << 24;
  uint32_t got = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)(len - 4));
  if (want != got)
    return hant__error(HANT_EFORMAT, "%s: checksum mismatch (file corrupt or truncated)", name);
  r.end -= 4;
  r.p += 8;
  if ((rc = get32(&r, &ver, "version")))
    return rc;
  if (ver != VERSION)
    return hant__error(HANT_ENOTSUP, "%s: format version %u, this hant reads version %u", name, ver, VERSION);
  if ((rc = get32(&r, &alen, "architecture length")) || (rc = need(&r, alen, "architecture")))
    return rc;
  if (!(arch = malloc((size_t)alen + 1)))
    return HANT_ENOMEM;
  memcpy(arch, r.p, alen);
  arch[alen] = '\0';
  r.p += alen;
  if (strlen(arch) != alen) {
    rc = hant__error(HANT_EFORMAT, "%s: architecture text contains a NUL byte", name);
    goto fail;
  }
  if ((rc = get32(&r, &mlen, "metadata length")) || (rc = need(&r, mlen, "metadata")))
    goto fail;
  if (!(m = malloc((size_t)mlen + 1))) {
    rc = HANT_ENOMEM;
    goto fail;
  }
  memcpy(m, r.p, mlen);
  m[mlen] = '\0';
  r.p += mlen;
  /* Every parameter value takes 4 bytes of the file: a file cannot hold
   * more than len/4 of them, so never allocate more. */
  if (!(net = hant_arch_build_limited(arch, name, len / 4 + 1))) {
    rc = hant__error(HANT_EFORMAT, "%s: architecture invalid: %s", name, hant_errmsg());
    goto fail;
  }
  if ((rc = get32(&r, &np, "parameter count")))
    goto fail;
  if (np != (uint32_t)net->n_params) {
    rc = hant__error(HANT_EFORMAT, "%s: %u parameter tensors, the architecture has %d", name, np, net->n_params);
    goto fail;
  }
  for (uint32_t i = 0; i < np; i++) {
    char pname[64];
    uint32_t cnt;
    if ((rc = need(&r, 2, "parameter name length")))
      goto fail;
    uint16_t nl = (uint16_t)(r.p[0] | r.p[1] << 8);
    r.p += 2;
    if (nl >= sizeof(pname)) {
      rc = hant__error(HANT_EFORMAT, "%s: parameter %u name of %u bytes is too long", name, i, nl);
      goto fail;
    }
    if ((rc = need(&r, nl, "parameter name")))
      goto fail;
    memcpy(pname, r.p, nl);
    pname[nl] = '\0';
    r.p += nl;
    hant_param *p = &net->params[i];
    if (strcmp(pname, p->name)) {
      rc = hant__error(HANT_EFORMAT, "%s: parameter %u is '%s', the architecture expects '%s'", name, i, pname, p->name);
      goto fail;
    }
    if ((rc = get32(&r, &cnt, "parameter size")))
      goto fail;
    if (cnt != p->n) {
      rc = hant__error(HANT_EFORMAT, "%s: parameter '%s' has %u values, the architecture expects %zu", name, pname, cnt, p->n);
      goto fail;
    }
    if ((rc = need(&r, (size_t)cnt * 4, pname)))
      goto fail;
    memcpy(p->w, r.p, (size_t)cnt * 4);
    r.p += (size_t)cnt * 4;
    for (uint32_t j = 0; j < cnt; j++)
      if (p->w[j] != p->w[j] || p->w[j] - p->w[j] != 0.0f) {
        rc = hant__error(HANT_EFORMAT, "%s: parameter '%s' value %u is not finite", name, pname, j);
        goto fail;
      }
  }
  if (r.p != r.end) {
    rc = hant__error(HANT_EFORMAT, "%s: %zu unexpected bytes after the parameters", name, (size_t)(r.end - r.p));
    goto fail;
  }
  free(arch);
  net->param_budget = 0; /* the limit guards parsing only */
  if (meta)
    *meta = m;
  else
    free(m);
  *out = net;
  return 0;
fail:
  free(arch);
  free(m);
  hant_net_destroy(net);
  return rc;
}

int hant_netfile_load(const char *path, hant_net **out, char **meta) {
  *out = NULL;
  if (meta)
    *meta = NULL;
  char *buf;
  size_t len;
  int rc = hant_file_read(path, HANT_NETFILE_MAX_BYTES, &buf, &len);
  if (rc)
    return rc;
  rc = hant_netfile_parse((const uint8_t *)buf, len, path, out, meta);
  free(buf);
  return rc;
}
