/* SPDX-License-Identifier: MIT */
/* test_forward_ref.c: every operator kernel, forward and backward, against PyTorch's results stored in data/forward_ref.bin. */
#include <stdbool.h>
#include <string.h>

#include "hant.h"
#include "ops.h"
#include "test_util.h"

/* The fixture is written by data/make_forward_ref.py; its header describes
 * the format. Tolerance: max |hant - torch| <= TOL * max |torch|. */
#define TOL 1e-4

typedef struct ref_tensor {
  char name[64];
  int ndim;
  uint32_t dims[4];
  size_t n;
  float *data;
} ref_tensor;

static ref_tensor *refs;
static int n_refs;

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads the whole fixture; exits on any malformation (a broken fixture is a test setup error). */
static void load_fixture(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open fixture %s (pass its path as the first argument)\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
  if (!buf || len < 12 || fread(buf, 1, (size_t)len, f) != (size_t)len || memcmp(buf, "HANTREF1", 8)) {
    fprintf(stderr, "%s: not a forward_ref fixture\n", path);
    exit(1);
  }
  fclose(f);
  const uint8_t *p = buf + 12, *end = buf + len;
  n_refs = (int)le32(buf + 8);
  refs = calloc((size_t)n_refs, sizeof(*refs));
  HANT_ASSERT(refs);
  for (int i = 0; i < n_refs; i++) {
    ref_tensor *r = &refs[i];
    if (end - p < 2)
      goto bad;
    size_t nl = (size_t)p[0] | (size_t)p[1] << 8;
    p += 2;
    if (nl >= sizeof(r->name) || (size_t)(end - p) < nl + 4)
      goto bad;
    memcpy(r->name, p, nl);
    p += nl;
    r->ndim = (int)le32(p);
    p += 4;
    if (r->ndim < 1 || r->ndim > 4 || end - p < 4 * r->ndim)
      goto bad;
    r->n = 1;
    for (int d = 0; d < r->ndim; d++, p += 4) {
      r->dims[d] = le32(p);
      r->n *= r->dims[d];
    }
    if ((size_t)(end - p) / 4 < r->n)
      goto bad;
    r->data = malloc(r->n * sizeof(float) + 1);
    HANT_ASSERT(r->data);
    for (size_t j = 0; j < r->n; j++, p += 4) {
      uint32_t u = le32(p);
      memcpy(&r->data[j], &u, 4);
    }
  }
  if (p != end)
    goto bad;
  free(buf);
  return;
bad:
  fprintf(stderr, "%s: malformed fixture\n", path);
  exit(1);
}

static const ref_tensor *find_ref(const char *name) {
  for (int i = 0; i < n_refs; i++)
    if (!strcmp(refs[i].name, name))
      return &refs[i];
  return NULL;
}

/* The tensor `prefix.field` with `count` elements (0: any); exits when absent. */
static const float *need(const char *prefix, const char *field, size_t count) {
  char name[128];
  snprintf(name, sizeof(name), "%s.%s", prefix, field);
  const ref_tensor *r = find_ref(name);
  if (!r || (count && r->n != count)) {
    fprintf(stderr, "FAIL fixture: %s %s (have %zu elements, want %zu)\n", name, r ? "has the wrong size" : "missing",
            r ? r->n : 0, count);
    exit(1);
  }
  return r->data;
}

static int cfg_int(const float *cfg, int i) { return (int)lrintf(cfg[i]); }

/* PyTorch's activations are channels first; the library's channels last
 * (ops.h). Rewrites the fixture's tensor `prefix.field`, [n, c, hw] channels
 * first, in place into the library's layout. */
static void to_channels_last(const char *prefix, const char *field, int n, int c, int hw) {
  size_t cnt = (size_t)n * c * hw;
  float *x = (float *)need(prefix, field, cnt), *y = malloc(cnt * sizeof(float));
  HANT_ASSERT(y);
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++)
      for (int i = 0; i < hw; i++)
        y[((size_t)b * hw + i) * c + ch] = x[((size_t)b * c + ch) * hw + i];
  memcpy(x, y, cnt * sizeof(float));
  free(y);
}

static double compare(const char *what, const float *got, const float *ref, size_t n) {
  double md = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    double dv = fabs((double)got[i] - ref[i]);
    if (!(dv <= md))
      md = dv;
    scale = fmax(scale, fabs((double)ref[i]));
  }
  double e = md / (scale > 1e-12 ? scale : 1e-12);
  CHECK(e <= TOL, "%s: max |hant - torch| = %.3g, %.3g of the output scale %.3g", what, md, e, scale);
  return e;
}

static float *zeros(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  HANT_ASSERT(p);
  return p;
}

static void test_conv(void) {
  hant_arena scratch;
  hant_arena_init(&scratch, 0);
  int cases = 0;
  for (int i = 0;; i++) {
    char pre[32], what[64];
    snprintf(pre, sizeof(pre), "conv%d", i);
    snprintf(what, sizeof(what), "%s.cfg", pre);
    if (!find_ref(what))
      break;
    const float *cfg = need(pre, "cfg", 13);
    hant_conv_desc d = {.c_in = cfg_int(cfg, 0), .c_out = cfg_int(cfg, 1), .kh = cfg_int(cfg, 2), .kw = cfg_int(cfg, 3),
                        .sh = cfg_int(cfg, 4), .sw = cfg_int(cfg, 5), .ph = cfg_int(cfg, 6), .pw = cfg_int(cfg, 7),
                        .groups = cfg_int(cfg, 8)};
    int n = cfg_int(cfg, 9), h = cfg_int(cfg, 10), w = cfg_int(cfg, 11);
    bool bias = cfg_int(cfg, 12) != 0;
    int ho = hant_conv_out_h(&d, h), wo = hant_conv_out_w(&d, w);
    size_t nx = (size_t)n * d.c_in * h * w, ny = (size_t)n * d.c_out * ho * wo;
    size_t nw = (size_t)d.c_out * (d.c_in / d.groups) * d.kh * d.kw;
    to_channels_last(pre, "x", n, d.c_in, h * w);
    to_channels_last(pre, "dx", n, d.c_in, h * w);
    to_channels_last(pre, "y", n, d.c_out, ho * wo);
    to_channels_last(pre, "dy", n, d.c_out, ho * wo);
    const float *x = need(pre, "x", nx), *wt = need(pre, "w", nw), *b = bias ? need(pre, "b", (size_t)d.c_out) : NULL;
    float *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)d.c_out);
    int rc = hant_conv_forward(&d, x, n, h, w, wt, b, y, &scratch);
    hant_arena_reset(&scratch);
    CHECK(rc == 0, "%s: forward returned %s: %s", pre, hant_err_name(rc), hant_errmsg());
    snprintf(what, sizeof(what), "%s (%dx%d g%d s%d) forward", pre, d.kh, d.kw, d.groups, d.sh);
    compare(what, y, need(pre, "y", ny), ny);
    rc = hant_conv_backward(&d, x, n, h, w, wt, need(pre, "dy", ny), dx, dw, bias ? db : NULL, &scratch);
    hant_arena_reset(&scratch);
    CHECK(rc == 0, "%s: backward returned %s: %s", pre, hant_err_name(rc), hant_errmsg());
    snprintf(what, sizeof(what), "%s dx", pre);
    compare(what, dx, need(pre, "dx", nx), nx);
    snprintf(what, sizeof(what), "%s dw", pre);
    compare(what, dw, need(pre, "dw", nw), nw);
    if (bias) {
      snprintf(what, sizeof(what), "%s db", pre);
      compare(what, db, need(pre, "db", (size_t)d.c_out), (size_t)d.c_out);
    }
    free(y), free(dx), free(dw), free(db);
    cases++;
  }
  CHECK(cases >= 9, "fixture holds %d conv cases, expected at least 9", cases);
  hant_arena_free(&scratch);
}

static void test_bn(void) {
  const float *cfg = need("bn", "cfg", 4);
  int n = cfg_int(cfg, 0), c = cfg_int(cfg, 1), hw = cfg_int(cfg, 2) * cfg_int(cfg, 3);
  size_t nx = (size_t)n * c * hw;
  static const char *const bn_acts[] = {"x", "y_eval", "y_train", "dy", "dx"};
  for (size_t i = 0; i < sizeof(bn_acts) / sizeof(bn_acts[0]); i++)
    to_channels_last("bn", bn_acts[i], n, c, hw);
  const float *x = need("bn", "x", nx), *gamma = need("bn", "gamma", (size_t)c), *beta = need("bn", "beta", (size_t)c);
  const float *rm = need("bn", "running_mean", (size_t)c), *rv = need("bn", "running_var", (size_t)c);
  float *y = zeros(nx), *dx = zeros(nx), *dg = zeros((size_t)c), *dbeta = zeros((size_t)c);
  float *rm2 = zeros((size_t)c), *rv2 = zeros((size_t)c), *sm = zeros((size_t)c), *si = zeros((size_t)c);

  hant_bn_forward_eval(x, n, c, hw, gamma, beta, rm, rv, 1e-5f, y);
  compare("batch norm eval", y, need("bn", "y_eval", nx), nx);

  memcpy(rm2, rm, sizeof(float) * (size_t)c);
  memcpy(rv2, rv, sizeof(float) * (size_t)c);
  hant_bn_forward_train(x, n, c, hw, gamma, beta, rm2, rv2, 0.1f, 1e-5f, y, sm, si);
  compare("batch norm train output", y, need("bn", "y_train", nx), nx);
  compare("batch norm running mean update", rm2, need("bn", "running_mean_after", (size_t)c), (size_t)c);
  compare("batch norm running var update (unbiased)", rv2, need("bn", "running_var_after", (size_t)c), (size_t)c);

  hant_bn_backward(x, need("bn", "dy", nx), n, c, hw, gamma, sm, si, dx, dg, dbeta);
  compare("batch norm dx", dx, need("bn", "dx", nx), nx);
  compare("batch norm dgamma", dg, need("bn", "dgamma", (size_t)c), (size_t)c);
  compare("batch norm dbeta", dbeta, need("bn", "dbeta", (size_t)c), (size_t)c);
  free(y), free(dx), free(dg), free(dbeta), free(rm2), free(rv2), free(sm), free(si);
}

static void test_act(void) {
  static const struct {
    const char *name;
    hant_act act;
  } acts[] = {{"relu", HANT_ACT_RELU}, {"relu6", HANT_ACT_RELU6}, {"hswish", HANT_ACT_HSWISH}};
  const ref_tensor *rx = find_ref("act.x"), *re = find_ref("act.edges");
  if (!rx || !re) {
    CHECK(false, "fixture has no activation inputs");
    return;
  }
  float *y = zeros(rx->n), *dx = zeros(rx->n), *ye = zeros(re->n);
  for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
    char pre[32], what[64];
    snprintf(pre, sizeof(pre), "act.%s", acts[i].name);
    hant_act_forward(acts[i].act, rx->data, y, rx->n);
    snprintf(what, sizeof(what), "%s forward", acts[i].name);
    compare(what, y, need(pre, "y", rx->n), rx->n);
    hant_act_backward(acts[i].act, rx->data, need("act", "dy", rx->n), dx, rx->n);
    snprintf(what, sizeof(what), "%s backward", acts[i].name);
    compare(what, dx, need(pre, "dx", rx->n), rx->n);
    hant_act_forward(acts[i].act, re->data, ye, re->n);
    snprintf(what, sizeof(what), "%s at its breakpoints", acts[i].name);
    compare(what, ye, need(pre, "edges_y", re->n), re->n);
  }
  /* In place (y == x) is allowed for activations. */
  memcpy(y, rx->data, rx->n * sizeof(float));
  hant_act_forward(HANT_ACT_HSWISH, y, y, rx->n);
  compare("hswish in place", y, need("act.hswish", "y", rx->n), rx->n);
  free(y), free(dx), free(ye);
}

static void test_pool(void) {
  const float *cfg = need("pool", "cfg", 4);
  int n = cfg_int(cfg, 0), c = cfg_int(cfg, 1), h = cfg_int(cfg, 2), w = cfg_int(cfg, 3);
  size_t nx = (size_t)n * c * h * w;
  static const char *const names[] = {"maxpool", "avgpool_pad1", "avgpool_pad0", "avgpool_k2"};
  to_channels_last("pool", "x", n, c, h * w);
  to_channels_last("gap", "dx", n, c, h * w);
  for (size_t v = 0; v < sizeof(names) / sizeof(names[0]); v++) {
    const float *pc = need(names[v], "cfg", 4);
    hant_pool_desc d = {.k = cfg_int(pc, 0), .s = cfg_int(pc, 1), .p = cfg_int(pc, 2)};
    int hwo = hant_pool_out(&d, h) * hant_pool_out(&d, w);
    to_channels_last(names[v], "y", n, c, hwo);
    to_channels_last(names[v], "dy", n, c, hwo);
    to_channels_last(names[v], "dx", n, c, h * w);
  }
  const float *x = need("pool", "x", nx);
  float *dx = zeros(nx);
  for (size_t v = 0; v < sizeof(names) / sizeof(names[0]); v++) {
    const float *pc = need(names[v], "cfg", 4);
    hant_pool_desc d = {.k = cfg_int(pc, 0), .s = cfg_int(pc, 1), .p = cfg_int(pc, 2), .count_include_pad = cfg_int(pc, 3) != 0};
    int ho = hant_pool_out(&d, h), wo = hant_pool_out(&d, w);
    size_t ny = (size_t)n * c * ho * wo;
    float *y = zeros(ny);
    int *idx = calloc(ny, sizeof(int));
    HANT_ASSERT(idx);
    char what[64];
    bool is_max = v == 0;
    if (is_max)
      hant_maxpool_forward(&d, x, n, c, h, w, y, idx);
    else
      hant_avgpool_forward(&d, x, n, c, h, w, y);
    snprintf(what, sizeof(what), "%s k%d s%d p%d forward", names[v], d.k, d.s, d.p);
    compare(what, y, need(names[v], "y", ny), ny);
    for (size_t i = 0; i < nx; i++)
      dx[i] = 1e30f; /* backward must overwrite */
    if (is_max)
      hant_maxpool_backward(&d, need(names[v], "dy", ny), idx, n, c, h, w, dx);
    else
      hant_avgpool_backward(&d, need(names[v], "dy", ny), n, c, h, w, dx);
    snprintf(what, sizeof(what), "%s backward", names[v]);
    compare(what, dx, need(names[v], "dx", nx), nx);
    free(y);
    free(idx);
  }
  float *g = zeros((size_t)n * c);
  hant_gap_forward(x, n, c, h * w, g);
  compare("global average pool forward", g, need("gap", "y", (size_t)n * c), (size_t)n * c);
  hant_gap_backward(need("gap", "dy", (size_t)n * c), n, c, h * w, dx);
  compare("global average pool backward", dx, need("gap", "dx", nx), nx);
  free(g);
  free(dx);
}

static void test_linear(void) {
  const float *cfg = need("linear", "cfg", 3);
  int n = cfg_int(cfg, 0), in = cfg_int(cfg, 1), out = cfg_int(cfg, 2);
  const float *x = need("linear", "x", (size_t)n * in), *w = need("linear", "w", (size_t)out * in);
  const float *b = need("linear", "b", (size_t)out);
  float *y = zeros((size_t)n * out), *dx = zeros((size_t)n * in), *dw = zeros((size_t)out * in), *db = zeros((size_t)out);
  hant_linear_forward(x, n, in, out, w, b, y);
  compare("linear forward", y, need("linear", "y", (size_t)n * out), (size_t)n * out);
  hant_linear_backward(x, need("linear", "dy", (size_t)n * out), n, in, out, w, dx, dw, db);
  compare("linear dx", dx, need("linear", "dx", (size_t)n * in), (size_t)n * in);
  compare("linear dw", dw, need("linear", "dw", (size_t)out * in), (size_t)out * in);
  compare("linear db", db, need("linear", "db", (size_t)out), (size_t)out);
  free(y), free(dx), free(dw), free(db);
}

static void test_losses(void) {
  const float *cfg = need("xent", "cfg", 2);
  int n = cfg_int(cfg, 0), k = cfg_int(cfg, 1);
  size_t nk = (size_t)n * k;
  const float *z = need("xent", "logits", nk), *lf = need("xent", "labels", (size_t)n);
  int labels[64];
  HANT_ASSERT(n <= 64);
  for (int i = 0; i < n; i++)
    labels[i] = cfg_int(lf, i);
  float *g = zeros(nk);
  static const char *const xents[] = {"xent", "xent_ls"};
  for (int v = 0; v < 2; v++) {
    char what[64];
    float sm = need(xents[v], "smoothing", 1)[0];
    float loss = hant_loss_xent(z, labels, n, k, sm, g);
    snprintf(what, sizeof(what), "cross-entropy (smoothing %g) value", (double)sm);
    compare(what, &loss, need(xents[v], "loss", 1), 1);
    snprintf(what, sizeof(what), "cross-entropy (smoothing %g) gradient", (double)sm);
    compare(what, g, need(xents[v], "dlogits", nk), nk);
  }

  const ref_tensor *my = find_ref("mse.y");
  if (my) {
    float *dy = zeros(my->n);
    float loss = hant_loss_mse(my->data, need("mse", "t", my->n), my->n, dy);
    compare("MSE value", &loss, need("mse", "loss", 1), 1);
    compare("MSE gradient", dy, need("mse", "dy", my->n), my->n);
    free(dy);
  } else {
    CHECK(false, "fixture has no MSE case");
  }

  const float *kc = need("kd", "cfg", 2);
  n = cfg_int(kc, 0);
  k = cfg_int(kc, 1);
  nk = (size_t)n * k;
  const float *s = need("kd", "student", nk), *t = need("kd", "teacher", nk);
  float *gs = zeros(nk);
  for (int v = 0; v < 2; v++) {
    char pre[16], what[64];
    snprintf(pre, sizeof(pre), "kd%d", v);
    float temp = need(pre, "temperature", 1)[0];
    float loss = hant_loss_kd(s, t, n, k, temp, gs);
    snprintf(what, sizeof(what), "KD loss T=%g value", (double)temp);
    compare(what, &loss, need(pre, "loss", 1), 1);
    snprintf(what, sizeof(what), "KD loss T=%g gradient", (double)temp);
    compare(what, gs, need(pre, "dstudent", nk), nk);
  }
  free(g);
  free(gs);
}

int main(int argc, char **argv) {
  /* Default: data/forward_ref.bin beside this source file. __FILE__ is
   * relative to the build directory, where meson runs tests. */
  char path[4096];
  const char *env = getenv("HANT_TEST_DATA");
  if (argc > 1) {
    snprintf(path, sizeof(path), "%s", argv[1]);
  } else if (env && *env) {
    snprintf(path, sizeof(path), "%s/forward_ref.bin", env);
  } else {
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof(path) - (size_t)(slash ? slash + 1 - path : 0), "data/forward_ref.bin");
  }
  load_fixture(path);
  test_conv();
  test_bn();
  test_act();
  test_pool();
  test_linear();
  test_losses();
  for (int i = 0; i < n_refs; i++)
    free(refs[i].data);
  free(refs);
  return test_summary("forward_ref");
}
