/* SPDX-License-Identifier: MIT */
/* cmd_regen.c: hant-client regen: regenerates a fleet's device-specific models and its report, incrementally and atomically. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "hant.h"
#include "regen_doc.h"
#include "rpc_client.h"

static const char usage[] =
    "usage: hant-client [--socket PATH] regen FLEET.json --out DIR [--force] [--points N]\n"
    "                   [--finetune-epochs N] [--finetune-images N] [--json]\n"
    "\n"
    "For every entry of the fleet manifest (schema/fleet.schema.json: devices, each with\n"
    "budgets, fps and fine-tune settings) asks hantd for the best network, has it\n"
    "assembled, fine-tuned and evaluated, and writes\n"
    "  DIR/DEVICE/NAME.onnx   the network\n"
    "  DIR/DEVICE/NAME.json   the choice, predicted and measured figures, the library\n"
    "                         version and the hashes of the entry's inputs\n"
    "  DIR/report.md, DIR/report.html, DIR/plots/*.svg   the fleet's table and each\n"
    "                         device's Pareto fronts with the chosen points\n"
    "An entry whose inputs (teacher, candidates, the device's profile and costs, the\n"
    "entry itself, the hant version) did not change is skipped. Files are written\n"
    "atomically; NAME.json is written last and marks a complete entry.\n"
    "\n"
    "Before any work it prints the plan on stderr: each entry to make with its\n"
    "fine-tuning images and epochs and evaluation images, and an estimate of the\n"
    "wall time (the entry's MACs times the images it passes, over a throughput\n"
    "recorded by earlier runs in DIR, else a built-in figure; docs/regen.md).\n"
    "\n";

static void sha_text(const char *s, char out[65]) {
  hant_sha256 h;
  hant_sha256_init(&h);
  hant_sha256_update(&h, s, strlen(s));
  hant_sha256_hex(&h, out);
}

/* SHA-256 of a JSON value's canonical text (sorted keys, compact). */
static int sha_json(const json_t *v, char out[65]) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
  if (!s)
    return -1;
  sha_text(s, out);
  free(s);
  return 0;
}

static int mkdir_p(const char *path) {
  char tmp[1100];
  snprintf(tmp, sizeof(tmp), "%s", path);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0755) && errno != EEXIST)
        return -1;
      *p = '/';
    }
  return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static json_t *find_device(json_t *devices, const char *name) {
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(devices, "devices"), i, d) {
    if (!strcmp(client_str(d, "name", ""), name))
      return d;
  }
  return NULL;
}

typedef struct entry_run {
  const hant_fleet_entry *fe;
  const char *status; /* generated, unchanged, failed; NULL while still to make */
  char error[640];
  json_t *doc;        /* the entry's .json (new or the one kept), or NULL */
  char budgets[256];  /* as shown in the report */
  json_t *inputs;     /* the digests of what the entry is made from, while still to make */
  char inputs_sha[65];
  double macs;        /* the chosen network's MACs per image, as planned (NaN: unknown) */
  double est_s;       /* estimated wall time, seconds */
  bool planned;       /* in this run's plan: to make */
} entry_run;

/* Fine-tuning throughput, in MACs per second, of one hantd worker when
 * nothing was recorded: training ResNet-10 runs at 1,569 images/s on the
 * 2-core development machine with 2 threads (docs/benchmarks.md), that is
 * 1,569 x 16.6 MMAC x 3 (forward and backward) = 78 GMAC/s; hantd gives a
 * worker one kernel thread, so half of it. (The example fleet's first regen
 * on the quick library took 48 s, which this figure estimates at 52 s.) */
#define REGEN_DEFAULT_MAC_PER_S 39e9
/* Fashion-MNIST's validation and test splits (evaluated when eval_samples is 0). */
#define REGEN_VAL_IMAGES 5000
#define REGEN_TEST_IMAGES 10000
#define REGEN_TRAIN_IMAGES 55000

/* The epochs an entry will fine-tune for: "auto" chooses them only once
 * the network is assembled, so the plan counts the middle of its range. */
static int planned_epochs(const hant_fleet_entry *fe) {
  return fe->finetune_epochs == HANT_FINETUNE_EPOCHS_AUTO ? HANT_FINETUNE_AUTO_MID_EPOCHS : fe->finetune_epochs;
}

/* The MACs an entry's job runs through: KD fine-tuning passes each image
 * through the teacher (forward) and the network (forward and backward,
 * counted 3x); evaluation passes the validation and test images through
 * the network after fine-tuning and, when it fine-tunes, before, and
 * through the teacher. net_macs and teacher_macs per image. */
static double entry_work_macs(const hant_fleet_entry *fe, double net_macs, double teacher_macs) {
  int epochs = planned_epochs(fe);
  double ft = epochs > 0 ? (double)(fe->finetune_samples > 0 ? fe->finetune_samples : REGEN_TRAIN_IMAGES) * epochs *
                               (teacher_macs + 3 * net_macs)
                         : 0;
  double val = fe->eval_samples > 0 ? fe->eval_samples : REGEN_VAL_IMAGES;
  double test = fe->eval_samples > 0 ? fe->eval_samples : REGEN_TEST_IMAGES;
  return ft + (val + test) * (net_macs * (epochs > 0 ? 2 : 1) + teacher_macs);
}

/* The throughput earlier runs recorded in DIR: the median over every
 * entry's NAME.json with a fine-tuning time, of its work (as
 * entry_work_macs counts fine-tuning alone) over that time. 0 when none. */
static double recorded_mac_per_s(const hant_fleet *fleet, const char *out_dir, double teacher_macs) {
  double *rates = calloc((size_t)fleet->n + 1, sizeof(*rates));
  int n = 0;
  for (int i = 0; rates && i < fleet->n; i++) {
    char path[1300], *text;
    size_t len;
    snprintf(path, sizeof(path), "%s/%s/%s.json", out_dir, fleet->entries[i].device, fleet->entries[i].name);
    if (hant_file_read(path, CLIENT_REGEN_DOC_MAX, &text, &len))
      continue;
    json_t *d = json_loadb(text, len, 0, NULL);
    free(text);
    const json_t *ft = json_object_get(d, "finetune");
    double sec = client_num(ft, "seconds"), images = client_num(ft, "samples"),
           epochs = client_num(d, "finetune_epochs"), macs = client_num(json_object_get(d, "onnx"), "macs");
    if (sec > 0 && images > 0 && epochs > 0 && macs > 0)
      rates[n++] = images * epochs * (teacher_macs + 3 * macs) / sec;
    json_decref(d);
  }
  hant_errmsg_clear();
  for (int a = 1; a < n; a++)
    for (int b = a; b > 0 && rates[b] < rates[b - 1]; b--) {
      double t = rates[b];
      rates[b] = rates[b - 1];
      rates[b - 1] = t;
    }
  double r = n ? (n % 2 ? rates[n / 2] : (rates[n / 2 - 1] + rates[n / 2]) / 2) : 0;
  free(rates);
  return r;
}

/* "1 h 05 min", "3 min 20 s", "45 s". */
static void fmt_duration(double s, char *buf, size_t n) {
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, n, "%ld h %02ld min", t / 3600, t / 60 % 60);
  else if (t >= 60)
    snprintf(buf, n, "%ld min %02ld s", t / 60, t % 60);
  else
    snprintf(buf, n, "%ld s", t);
}

static void fail(entry_run *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(entry_run *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->error, sizeof(e->error), fmt, ap);
  va_end(ap);
  e->status = "failed";
}

/* The transform request of an entry, with out (a name in the user's directory of hantd's state). */
static json_t *entry_params(const hant_fleet_entry *fe, const char *out_name) {
  json_t *p = json_object(), *b = json_array();
  json_object_set_new(p, "device", json_string(fe->device));
  for (int i = 0; i < fe->n_budgets; i++)
    json_array_append_new(b, json_string(fe->budgets[i]));
  json_object_set_new(p, "budgets", b);
  if (fe->fps > 0)
    json_object_set_new(p, "fps", json_real(fe->fps));
  if (fe->grid_g_per_kwh >= 0)
    json_object_set_new(p, "grid_g_per_kwh", json_real(fe->grid_g_per_kwh));
  if (fe->power_mode[0]) {
    json_t *o = json_object();
    json_object_set_new(o, "power_mode", json_string(fe->power_mode));
    json_object_set_new(p, "options", o);
  }
  json_object_set_new(p, "out", json_string(out_name));
  json_object_set_new(p, "evaluate", json_true());
  if (fe->finetune_epochs == HANT_FINETUNE_EPOCHS_AUTO)
    json_object_set_new(p, "finetune_epochs", json_string("auto"));
  else if (fe->finetune_epochs > 0)
    json_object_set_new(p, "finetune_epochs", json_integer(fe->finetune_epochs));
  if (fe->finetune_samples > 0)
    json_object_set_new(p, "finetune_samples", json_integer(fe->finetune_samples));
  if (fe->eval_samples > 0)
    json_object_set_new(p, "eval_samples", json_integer(fe->eval_samples));
  return p;
}

/* The MACs of the network the solver would choose for an entry, from a
 * transform without out (no job, milliseconds); NaN when it has none. */
static double planned_macs(client_conn *c, const hant_fleet_entry *fe) {
  json_t *p = entry_params(fe, "x"), *r = NULL;
  json_object_del(p, "out");
  json_object_del(p, "evaluate");
  json_object_del(p, "finetune_epochs");
  json_object_del(p, "finetune_samples");
  json_object_del(p, "eval_samples");
  double m = NAN;
  if (client_call(c, "regen", "transform", p, &r, NULL, NULL, NULL) == 0)
    m = client_num(json_object_get(r, "totals"), "macs");
  json_decref(r);
  return m;
}

/* Why a transform answer is infeasible, in one line. */
static void infeasible_reason(const json_t *r, char *buf, size_t n) {
  json_t *ob = json_object_get(r, "over_budget");
  size_t o = (size_t)snprintf(buf, n, "infeasible: no network meets the budgets");
  if (json_array_size(ob)) {
    o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "; out of reach even alone:");
    size_t i;
    json_t *k;
    json_array_foreach(ob, i, k) {
      char v[48];
      client_fmt_kind(json_string_value(k), client_num(json_object_get(r, "min_totals"), json_string_value(k)), v,
                      sizeof(v));
      double m = client_num(json_object_get(r, "min_totals"), json_string_value(k));
      if (isfinite(m))
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, " %s (smallest possible %s)", json_string_value(k), v);
      else
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, " %s", json_string_value(k));
    }
  } else if (json_is_true(json_object_get(r, "jointly_infeasible"))) {
    snprintf(buf + o, o < n ? n - o : 0, "; each budget can be met alone, not all at once");
  }
}

/* Runs one entry: transform with out, wait for the job, write the .json. */
static void run_entry(client_conn *c, entry_run *e, const char *out_dir, json_t *inputs, const char *inputs_sha,
                      json_t *library) {
  const hant_fleet_entry *fe = e->fe;
  char dir[1100], onnx[1300], jpath[1300], abs_onnx[1300];
  snprintf(dir, sizeof(dir), "%s/%s", out_dir, fe->device);
  snprintf(onnx, sizeof(onnx), "%s/%s.onnx", dir, fe->name);
  snprintf(jpath, sizeof(jpath), "%s/%s.json", dir, fe->name);
  if (mkdir_p(dir)) {
    fail(e, "%s: %s", dir, strerror(errno));
    return;
  }
  /* The .json marks a complete entry: remove it first, so that a run that
   * stops half-way never leaves an old .json next to a new .onnx. */
  if (unlink(jpath) && errno != ENOENT) {
    fail(e, "%s: %s", jpath, strerror(errno));
    return;
  }
  if (client_absolute(onnx, abs_onnx, sizeof(abs_onnx))) {
    fail(e, "%s: path too long", onnx);
    return;
  }
  json_t *r = NULL, *job = NULL;
  int code = 0;
  /* hantd writes in the user's directory of its state under a name of its
   * own; this client, running as the user, then places the file. */
  char name[256];
  snprintf(name, sizeof(name), "%.60s@%.180s.onnx", fe->device, fe->name);
  int rc = client_call(c, "regen", "transform", entry_params(fe, name), &r, &code, NULL, NULL);
  if (rc == CLIENT_EXIT_UNREACHABLE) {
    fail(e, "lost the connection to hantd");
    return;
  }
  if (rc) {
    fail(e, "%s", client_last_error()[0] ? client_last_error() : "the daemon refused the transform");
    return;
  }
  const char *status = client_str(r, "status", "");
  json_t *jo = json_object_get(r, "job");
  if (!strcmp(status, "infeasible")) {
    infeasible_reason(r, e->error, sizeof(e->error));
    e->status = "failed";
    json_decref(r);
    return;
  }
  if (!json_is_array(json_object_get(r, "slots")) || !json_is_object(jo)) {
    fail(e, "the solver found no choice (status %s)", status);
    json_decref(r);
    return;
  }
  long long id = (long long)json_integer_value(json_object_get(jo, "id"));
  rc = client_wait_job_quiet(c, "regen", id, false, &job);
  if (rc || strcmp(client_str(job, "state", ""), "done")) {
    fail(e, "job %lld %s: %s", id, client_str(job, "state", "lost"), client_str(job, "error", "no reason given"));
    json_decref(job);
    json_decref(r);
    return;
  }
  json_t *res = json_object_get(job, "result");
  char err[1400];
  if (client_place_file(client_str(res, "out", ""), abs_onnx, err, sizeof(err))) {
    fail(e, "%s: %s", abs_onnx, err);
    json_decref(job);
    json_decref(r);
    return;
  }
  json_t *d = json_object();
  json_object_set_new(d, "device", json_string(fe->device));
  json_object_set_new(d, "name", json_string(fe->name));
  json_t *entry = json_loads(fe->canonical, 0, NULL);
  json_object_set_new(d, "entry", entry ? entry : json_null());
  json_object_set_new(d, "status", json_string(status));
  json_t *choice = json_array();
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(r, "slots"), i, s) {
    json_t *cs = json_object();
    static const char *const keys[] = {"slot", "candidate", "key", "family", "hparams", "score"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
      json_object_set(cs, keys[k], json_object_get(s, keys[k]));
    json_array_append_new(choice, cs);
  }
  json_object_set_new(d, "choice", choice);
  json_t *pred = json_object(), *tot = json_object_get(r, "totals");
  json_object_set(pred, "accuracy", json_object_get(r, "predicted_accuracy"));
  json_object_set(pred, "teacher_accuracy", json_object_get(r, "teacher_accuracy"));
  json_object_set(pred, "power_mode", json_object_get(r, "power_mode"));
  json_object_set(pred, "latency_ms", json_object_get(tot, "latency_ms"));
  json_object_set(pred, "energy_mj", json_object_get(tot, "energy_mj"));
  json_object_set(pred, "power_w", json_object_get(tot, "power_w"));
  json_object_set(pred, "sustained_power_w", json_object_get(tot, "sustained_power_w"));
  json_object_set(pred, "memory_bytes", json_object_get(tot, "memory_bytes"));
  json_object_set(pred, "macs", json_object_get(tot, "macs"));
  json_object_set(pred, "co2e_g_per_million", json_object_get(r, "co2e_g_per_million"));
  json_object_set(pred, "grid_g_per_kwh", json_object_get(r, "grid_g_per_kwh"));
  json_object_set_new(d, "predicted", pred);
  /* The teacher beside the entry's network, as the transform answer has it. */
  json_t *tch = json_object_get(r, "teacher"), *cut = json_object_get(r, "cut_percent");
  json_object_set_new(d, "teacher", json_is_object(tch) ? json_deep_copy(tch) : json_null());
  json_object_set_new(d, "cut_percent", json_is_object(cut) ? json_deep_copy(cut) : json_null());
  json_object_set_new(d, "teacher_chosen", json_boolean(json_is_true(json_object_get(r, "teacher_chosen"))));
  json_t *rel = json_object_get(r, "relative_budgets");
  json_object_set_new(d, "relative_budgets", json_is_object(rel) ? json_deep_copy(rel) : json_object());
  json_t *meas = json_object_get(res, "measured");
  json_object_set_new(d, "measured", json_is_object(meas) ? json_deep_copy(meas) : json_null());
  /* the epochs run, which "auto" chose from the assembled network */
  json_object_set_new(d, "finetune_epochs", json_integer(json_integer_value(json_object_get(res, "finetune_epochs"))));
  if (json_object_get(res, "finetune"))
    json_object_set(d, "finetune", json_object_get(res, "finetune"));
  char osha[65];
  json_t *on = json_object();
  json_object_set_new(on, "file", json_string(fe->name));
  json_object_set(on, "bytes", json_object_get(res, "bytes"));
  json_object_set(on, "macs", json_object_get(res, "macs"));
  json_object_set(on, "params", json_object_get(res, "params"));
  if (hant_sha256_file(onnx, osha) == 0)
    json_object_set_new(on, "sha256", json_string(osha));
  json_object_set_new(d, "onnx", on);
  json_object_set(d, "library_version", json_object_get(library, "version"));
  json_object_set(d, "inputs", inputs);
  json_object_set_new(d, "inputs_sha256", json_string(inputs_sha));
  json_object_set_new(d, "job", json_integer(id));
  char file_name[140];
  snprintf(file_name, sizeof(file_name), "%s.onnx", fe->name);
  json_object_set_new(on, "file", json_string(file_name));
  json_decref(job);
  json_decref(r);
  size_t n;
  char *text = client_regen_doc_text(d, &n);
  if (!text) {
    fail(e, "out of memory");
    json_decref(d);
    return;
  }
  if (hant_report_write_atomic(jpath, text, n, NULL)) {
    fail(e, "%s", hant_errmsg());
    free(text);
    json_decref(d);
    return;
  }
  free(text);
  e->doc = d;
  e->status = "generated";
}

/* Loads an entry's existing .json when it is complete and its inputs match. */
static json_t *load_unchanged(const char *out_dir, const hant_fleet_entry *fe, const char *inputs_sha) {
  char jpath[1300], onnx[1300];
  snprintf(jpath, sizeof(jpath), "%s/%s/%s.json", out_dir, fe->device, fe->name);
  snprintf(onnx, sizeof(onnx), "%s/%s/%s.onnx", out_dir, fe->device, fe->name);
  char *text, want[65], have[65];
  size_t len;
  json_t *d = NULL;
  if (hant_file_read(jpath, CLIENT_REGEN_DOC_MAX, &text, &len) == 0) {
    if (client_regen_doc_parse(text, len, jpath, inputs_sha, &d, want) == 0 &&
        (hant_sha256_file(onnx, have) || strcmp(want, have))) {
      json_decref(d);
      d = NULL;
    }
    free(text);
  }
  hant_errmsg_clear(); /* whatever stopped it, the entry is made again */
  return d;
}

/* The upper envelope of every power mode's front of a pareto answer:
 * for each cost, the best predicted accuracy any mode reaches. */
static int front_points(json_t *answer, hant_plot_point **out) {
  *out = NULL;
  size_t cap = 0, n = 0, i, j;
  json_t *f, *p;
  json_array_foreach(json_object_get(answer, "fronts"), i, f) cap += json_array_size(json_object_get(f, "points"));
  hant_plot_point *pts = calloc(cap + 1, sizeof(*pts));
  if (!pts)
    return 0;
  json_array_foreach(json_object_get(answer, "fronts"), i, f) {
    json_array_foreach(json_object_get(f, "points"), j, p) {
      pts[n++] = (hant_plot_point){client_num(p, "cost"), client_num(p, "predicted_accuracy"), NULL, false};
    }
  }
  /* Sort by cost, then keep strictly improving accuracy. */
  for (size_t a = 1; a < n; a++)
    for (size_t b = a; b > 0 && (pts[b].x < pts[b - 1].x || (pts[b].x == pts[b - 1].x && pts[b].y > pts[b - 1].y));
         b--) {
      hant_plot_point t = pts[b];
      pts[b] = pts[b - 1];
      pts[b - 1] = t;
    }
  size_t k = 0;
  double best = -INFINITY;
  for (size_t a = 0; a < n; a++)
    if (isfinite(pts[a].x) && isfinite(pts[a].y) && pts[a].y > best) {
      best = pts[a].y;
      pts[k++] = pts[a];
    }
  *out = pts;
  return (int)k;
}

/* The teacher's predicted latency and energy on an entry's device and
 * power mode. An entry's document that carries the teacher beside the
 * result (a "teacher" object with latency_ms and energy_mj, from the
 * transform answer) is used as it is; otherwise the teacher's own
 * selection is summed from the library (the devices answer's
 * teacher_costs, one per power mode). NaN when neither knows. */
static void entry_teacher(const json_t *doc, const json_t *dev, const char *power_mode, double *latency_ms,
                          double *energy_mj) {
  const json_t *t = json_object_get(doc, "teacher");
  *latency_ms = *energy_mj = NAN;
  if (json_is_object(t)) {
    *latency_ms = client_num(t, "latency_ms");
    *energy_mj = client_num(t, "energy_mj");
    if (isfinite(*latency_ms) && isfinite(*energy_mj))
      return;
  }
  size_t i;
  json_t *tc;
  json_array_foreach(json_object_get(dev, "teacher_costs"), i, tc) {
    if (i == 0 || (power_mode && !strcmp(client_str(tc, "power_mode", ""), power_mode))) {
      *latency_ms = client_num(tc, "latency_ms");
      *energy_mj = client_num(tc, "energy_mj");
    }
  }
}

/* An entry's latency and energy budgets in ms and mJ (NaN when none): the
 * tightest of its budgets of that kind, and 1/fps for latency. */
static void entry_budgets(const hant_fleet_entry *fe, double *latency_ms, double *energy_mj) {
  *latency_ms = fe->fps > 0 ? 1000.0 / fe->fps : NAN;
  *energy_mj = NAN;
  for (int b = 0; b < fe->n_budgets; b++) {
    hant_budget bud;
    if (hant_budget_parse(fe->budgets[b], &bud))
      continue;
    if (bud.kind == HANT_BUDGET_LATENCY)
      *latency_ms = isfinite(*latency_ms) ? fmin(*latency_ms, bud.value) : bud.value;
    else if (bud.kind == HANT_BUDGET_ENERGY)
      *energy_mj = isfinite(*energy_mj) ? fmin(*energy_mj, bud.value) : bud.value;
  }
  hant_errmsg_clear();
}

int cmd_regen(int argc, char **argv) {
  const char *out = NULL;
  bool force = false, json = false;
  long points_opt = 40, ft_epochs = -1, ft_images = -1;
  const char *ft_epochs_arg = NULL;
  hant_opt_list fleets = {0};
  const hant_opt opts[] = {
      HANT_OPT_STRING("out", 0, &out, "DIR", "output directory (created)"),
      HANT_OPT_FLAG("force", 0, &force, "regenerate every entry"),
      HANT_OPT_INT("points", 0, &points_opt, 0, 10000, "N", "points per Pareto front in the plots (default 40; 0: all)"),
      HANT_OPT_STRING("finetune-epochs", 0, &ft_epochs_arg, "N|auto",
                      "fine-tune every entry N epochs (0: none; auto: as many as\n"
                      "its loss as assembled asks), over the fleet's finetune_epochs"),
      HANT_OPT_INT("finetune-images", 0, &ft_images, 0, 55000, "N",
                   "fine-tune on the first N training images (0: all 55,000),\nover the fleet's finetune_images"),
      HANT_OPT_FLAG("json", 0, &json, "print a JSON summary on stdout"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {
      .name = "hant-client regen",
      .usage = usage,
      .footer = "\nExit status: 0 every entry succeeded, 6 some entries failed (listed on stderr),\n"
                "1 failure (unreadable fleet file, unwritable DIR), 2 usage, 3 daemon unreachable,\n"
                "5 daemon error.\n",
      .column = 15,
      .opts = opts,
      .operands = &fleets};
  int rc = client_parse(&cmd, argc, argv);
  const char *fleet_path = fleets.n ? fleets.v[0] : NULL;
  if (rc < 0 && fleets.n > 1) {
    fprintf(stderr, "hant-client regen: unknown argument '%s'; see 'hant-client regen --help'\n", fleets.v[1]);
    rc = CLIENT_EXIT_USAGE;
  } else if (rc < 0 && (!fleet_path || !out)) {
    fprintf(stderr, "hant-client regen: FLEET.json and --out DIR are required; see 'hant-client regen --help'\n");
    rc = CLIENT_EXIT_USAGE;
  }
  hant_opt_list_free(&fleets);
  if (rc < 0 && ft_epochs_arg && client_parse_epochs("hant-client regen", "--finetune-epochs", ft_epochs_arg, &ft_epochs))
    rc = CLIENT_EXIT_USAGE;
  if (rc >= 0)
    return rc;
  int points = (int)points_opt;
  hant_fleet *fleet = NULL;
  if (hant_fleet_load(fleet_path, &fleet)) {
    fprintf(stderr, "hant-client regen: %s\n", hant_errmsg());
    return CLIENT_EXIT_FAILURE;
  }
  /* The command line wins over the manifest; the entries' hashes follow. */
  if (hant_fleet_set_finetune(fleet, (int)ft_epochs, (int)ft_images)) {
    fprintf(stderr, "hant-client regen: out of memory\n");
    hant_fleet_destroy(fleet);
    return CLIENT_EXIT_FAILURE;
  }
  if (mkdir_p(out)) {
    fprintf(stderr, "hant-client regen: %s: %s\n", out, strerror(errno));
    hant_fleet_destroy(fleet);
    return CLIENT_EXIT_FAILURE;
  }
  int code;
  client_conn c;
  json_t *version = NULL, *library = NULL, *devices = NULL, *lp = json_object();
  entry_run *runs = calloc((size_t)fleet->n + 1, sizeof(*runs));
  hant_report_device *rdev = calloc((size_t)fleet->n + 1, sizeof(*rdev));
  hant_report_entry *rent = calloc((size_t)fleet->n + 1, sizeof(*rent));
  int n_rdev = 0;
  if (!runs || !rdev || !rent) {
    json_decref(lp);
    code = CLIENT_EXIT_FAILURE;
    goto done_noconn;
  }
  if ((code = client_connect(&c))) {
    json_decref(lp);
    goto done_noconn;
  }
  json_object_set_new(lp, "candidates", json_true());
  if ((code = client_call(&c, "regen", "version", NULL, &version, NULL, NULL, NULL)) ||
      (code = client_call(&c, "regen", "library", lp, &library, NULL, NULL, NULL)) ||
      (code = client_call(&c, "regen", "devices", NULL, &devices, NULL, NULL, NULL)))
    goto done;
  if (json_is_true(json_object_get(library, "empty"))) {
    fprintf(stderr, "hant-client regen: the daemon's library is empty: build one with hant-distill build\n");
    code = CLIENT_EXIT_SERVER;
    goto done;
  }
  /* Inputs shared by every entry. */
  char cands_sha[65], version_text[160];
  json_t *teacher = json_object_get(library, "teacher");
  if (sha_json(json_object_get(library, "slots"), cands_sha)) {
    code = CLIENT_EXIT_FAILURE;
    goto done;
  }
  snprintf(version_text, sizeof(version_text), "hantd %s, hant-client %s", client_str(version, "hantd", "?"),
           hant_version());

  /* First the plan: which entries are to make, and what they will cost. */
  double teacher_macs = client_num(teacher, "macs");
  double rate = recorded_mac_per_s(fleet, out, teacher_macs);
  const char *rate_source = rate > 0 ? "recorded by earlier runs in DIR" : "built-in figure (docs/regen.md)";
  if (!(rate > 0))
    rate = REGEN_DEFAULT_MAC_PER_S;
  int n_todo = 0;
  double est_total = 0;
  for (int i = 0; i < fleet->n; i++) {
    entry_run *e = &runs[i];
    const hant_fleet_entry *fe = &fleet->entries[i];
    e->fe = fe;
    e->macs = NAN;
    size_t o = 0;
    for (int b = 0; b < fe->n_budgets; b++)
      o += (size_t)snprintf(e->budgets + o, o < sizeof(e->budgets) ? sizeof(e->budgets) - o : 0, "%s%s",
                            b ? ", " : "", fe->budgets[b]);
    if (fe->fps > 0 && o < sizeof(e->budgets))
      snprintf(e->budgets + o, sizeof(e->budgets) - o, "%s%g fps", o ? ", " : "", fe->fps);
    if (fe->error[0]) {
      fail(e, "%s", fe->error);
      continue;
    }
    json_t *dev = find_device(devices, fe->device);
    if (!dev || !json_is_true(json_object_get(dev, "costed"))) {
      fail(e, "%s: %s: device '%s' %s; run hant-distill profile --db LIBRARY --device %s and reload hantd",
           fleet_path, fe->where, fe->device, dev ? "has no costs in the library" : "is unknown to the library",
           fe->device);
      continue;
    }
    json_t *inputs = json_object();
    char entry_sha[65];
    sha_text(fe->canonical, entry_sha);
    json_object_set(inputs, "teacher_sha256", json_object_get(teacher, "sha256"));
    json_object_set_new(inputs, "candidates_sha256", json_string(cands_sha));
    json_object_set(inputs, "device_profile_sha256", json_object_get(dev, "profile_sha256"));
    json_object_set(inputs, "device_costs_sha256", json_object_get(dev, "costs_sha256"));
    json_object_set_new(inputs, "entry_sha256", json_string(entry_sha));
    json_object_set_new(inputs, "hant_version", json_string(version_text));
    sha_json(inputs, e->inputs_sha);
    json_t *kept = force ? NULL : load_unchanged(out, fe, e->inputs_sha);
    if (kept) {
      e->doc = kept;
      e->status = "unchanged";
      json_decref(inputs);
      continue;
    }
    e->inputs = inputs;
    e->planned = true;
    e->macs = planned_macs(&c, fe);
    /* Without a choice (an infeasible budget) the job never runs. */
    e->est_s = isfinite(e->macs) ? entry_work_macs(fe, e->macs, teacher_macs) / rate : 0;
    est_total += e->est_s;
    n_todo++;
  }
  if (!json) {
    fprintf(stderr, "regen plan: %d of %d %s to make", n_todo, fleet->n, hant_plural(fleet->n, "entry", "entries"));
    if (n_todo) {
      char d[32];
      fmt_duration(est_total, d, sizeof(d));
      fprintf(stderr, ", about %s\n", d);
    } else {
      fprintf(stderr, "\n");
    }
    for (int i = 0; i < fleet->n; i++) {
      const entry_run *e = &runs[i];
      const hant_fleet_entry *fe = e->fe;
      if (!e->planned)
        continue;
      char d[32], imgs[32], ev[32];
      fmt_duration(e->est_s, d, sizeof(d));
      snprintf(imgs, sizeof(imgs), fe->finetune_samples > 0 ? "%d" : "all %d",
               fe->finetune_samples > 0 ? fe->finetune_samples : REGEN_TRAIN_IMAGES);
      snprintf(ev, sizeof(ev), fe->eval_samples > 0 ? "%d" : "all", fe->eval_samples);
      if (fe->finetune_epochs == HANT_FINETUNE_EPOCHS_AUTO)
        fprintf(stderr, "  %s/%s: fine-tune %s images x auto epochs (%d-%d, %d counted), evaluate %s; %.3g MMAC; "
                        "about %s\n", fe->device, fe->name, imgs, HANT_FINETUNE_AUTO_SHORT_EPOCHS,
                HANT_FINETUNE_AUTO_LONGEST_EPOCHS, planned_epochs(fe), ev, e->macs / 1e6, d);
      else if (fe->finetune_epochs > 0)
        fprintf(stderr, "  %s/%s: fine-tune %s images x %d %s, evaluate %s; %.3g MMAC; about %s\n", fe->device,
                fe->name, imgs, fe->finetune_epochs, hant_plural(fe->finetune_epochs, "epoch", "epochs"), ev,
                e->macs / 1e6, d);
      else if (isfinite(e->macs))
        fprintf(stderr, "  %s/%s: no fine-tuning, evaluate %s; %.3g MMAC; about %s\n", fe->device, fe->name, ev,
                e->macs / 1e6, d);
      else
        fprintf(stderr, "  %s/%s: no network meets the budgets\n", fe->device, fe->name);
    }
    if (n_todo)
      fprintf(stderr, "  estimate: each entry's MACs x (fine-tuning images x epochs x (3 + teacher/network MACs) + "
                      "evaluated images), at %.3g GMAC/s, %s\n",
              rate / 1e9, rate_source);
  }

  int n_failed = 0, n_generated = 0, n_unchanged = 0;
  for (int i = 0; i < fleet->n; i++) {
    entry_run *e = &runs[i];
    const hant_fleet_entry *fe = &fleet->entries[i];
    if (e->inputs) {
      if (!json)
        fprintf(stderr, "regen: %s/%s ...\n", fe->device, fe->name);
      run_entry(&c, e, out, e->inputs, e->inputs_sha, library);
      json_decref(e->inputs);
      e->inputs = NULL;
    }
    n_failed += !strcmp(e->status, "failed");
    n_generated += !strcmp(e->status, "generated");
    n_unchanged += !strcmp(e->status, "unchanged");
    if (!json)
      printf("%-16s %-28s %-10s %s\n", fe->device, fe->name, e->status, e->error);
  }

  /* The report: every entry; fronts of every device with a costed profile. */
  for (int i = 0; i < fleet->n; i++) {
    entry_run *e = &runs[i];
    hant_report_entry *re = &rent[i];
    re->device = e->fe->device;
    re->name = e->fe->name;
    re->budgets = e->budgets;
    /* The report describes the fleet, not this run: generated and
     * unchanged entries are both "ok", so a run that changes nothing
     * writes the same report. */
    re->status = strcmp(e->status, "failed") ? "ok" : "failed";
    re->error = e->error[0] ? e->error : NULL;
    client_regen_doc_figures(e->doc, re);
    re->finetune_epochs = (int)json_integer_value(json_object_get(e->doc, "finetune_epochs")); /* as run */
    entry_budgets(e->fe, &re->budget_latency_ms, &re->budget_energy_mj);
    json_t *dev = find_device(devices, e->fe->device);
    entry_teacher(e->doc, dev, re->power_mode, &re->teacher_latency_ms, &re->teacher_energy_mj);
    if (!dev || !json_is_true(json_object_get(dev, "costed")))
      continue;
    hant_report_device *rd = NULL;
    for (int d = 0; d < n_rdev; d++)
      if (!strcmp(rdev[d].name, e->fe->device))
        rd = &rdev[d];
    /* The teacher's test accuracy, measured with the device's first evaluated entry. */
    double tt = client_num(json_object_get(e->doc, "measured"), "teacher_test_accuracy");
    if (rd) {
      if (!isfinite(rd->teacher_test_accuracy))
        rd->teacher_test_accuracy = tt;
      continue;
    }
    rd = &rdev[n_rdev++];
    rd->name = e->fe->device;
    rd->teacher_accuracy = client_num(teacher, "val_accuracy");
    rd->teacher_test_accuracy = tt;
    rd->teacher_energy_mj = rd->teacher_latency_ms = NAN;
    json_t *tc = json_array_get(json_object_get(dev, "teacher_costs"), 0);
    if (tc) {
      rd->teacher_energy_mj = client_num(tc, "energy_mj");
      rd->teacher_latency_ms = client_num(tc, "latency_ms");
      rd->teacher_power_mode = json_string_value(json_object_get(tc, "power_mode"));
    }
    for (int a = 0; a < 2; a++) {
      json_t *p = json_object(), *r = NULL;
      json_object_set_new(p, "device", json_string(rd->name));
      json_object_set_new(p, "axis", json_string(a ? "latency_ms" : "energy_mj"));
      json_object_set_new(p, "points", json_integer(points));
      json_object_set_new(p, "respect_budgets", json_false());
      if (client_call(&c, "regen", "pareto", p, &r, NULL, NULL, NULL) == 0) {
        hant_plot_point *pts;
        int np = front_points(r, &pts);
        if (a) {
          rd->front_latency = pts;
          rd->n_front_latency = np;
        } else {
          rd->front_energy = pts;
          rd->n_front_energy = np;
        }
      }
      json_decref(r);
    }
  }
  char title[160], subtitle[512];
  snprintf(title, sizeof(title), "hant fleet regeneration%s%s", fleet->name[0] ? ": " : "", fleet->name);
  snprintf(subtitle, sizeof(subtitle), "Library %s (version %lld), teacher %.16s (validation accuracy %.4f); %s.",
           client_str(library, "path", "?"), (long long)json_integer_value(json_object_get(library, "version")),
           client_str(teacher, "sha256", "?"), client_num(teacher, "val_accuracy"), version_text);
  hant_report rep = {title, subtitle, fleet->n, rent, n_rdev, rdev};
  if (hant_report_write(&rep, out)) {
    fprintf(stderr, "hant-client regen: report: %s\n", hant_errmsg());
    code = CLIENT_EXIT_FAILURE;
    goto done;
  }
  if (json) {
    json_t *s = json_object(), *ents = json_array();
    for (int i = 0; i < fleet->n; i++) {
      json_t *o = json_object();
      json_object_set_new(o, "device", json_string(runs[i].fe->device));
      json_object_set_new(o, "name", json_string(runs[i].fe->name));
      json_object_set_new(o, "status", json_string(runs[i].status));
      json_object_set_new(o, "error", runs[i].error[0] ? json_string(runs[i].error) : json_null());
      json_array_append_new(ents, o);
    }
    json_object_set_new(s, "entries", ents);
    json_t *plan = json_object(), *pe = json_array();
    for (int i = 0; i < fleet->n; i++) {
      const entry_run *e = &runs[i];
      if (!e->planned)
        continue;
      json_t *o = json_object();
      json_object_set_new(o, "device", json_string(e->fe->device));
      json_object_set_new(o, "name", json_string(e->fe->name));
      json_object_set_new(o, "finetune_epochs", e->fe->finetune_epochs == HANT_FINETUNE_EPOCHS_AUTO
                                                    ? json_string("auto")
                                                    : json_integer(e->fe->finetune_epochs));
      json_object_set_new(o, "finetune_images",
                          json_integer(e->fe->finetune_samples > 0 ? e->fe->finetune_samples : REGEN_TRAIN_IMAGES));
      json_object_set_new(o, "eval_images", json_integer(e->fe->eval_samples));
      json_object_set_new(o, "macs", isfinite(e->macs) ? json_real(e->macs) : json_null());
      json_object_set_new(o, "estimate_s", json_real(e->est_s));
      json_array_append_new(pe, o);
    }
    json_object_set_new(plan, "entries", pe);
    json_object_set_new(plan, "estimate_s", json_real(est_total));
    json_object_set_new(plan, "mac_per_s", json_real(rate));
    json_object_set_new(plan, "mac_per_s_source", json_string(strstr(rate_source, "recorded") ? "recorded" : "default"));
    json_object_set_new(s, "plan", plan);
    json_object_set_new(s, "generated", json_integer(n_generated));
    json_object_set_new(s, "unchanged", json_integer(n_unchanged));
    json_object_set_new(s, "failed", json_integer(n_failed));
    client_print_json(s);
    json_decref(s);
  } else {
    printf("%d %s: %d generated, %d unchanged, %d failed; report in %s/report.html\n", fleet->n,
           hant_plural(fleet->n, "entry", "entries"), n_generated,
           n_unchanged, n_failed, out);
  }
  code = CLIENT_EXIT_OK;
  if (n_failed) {
    fprintf(stderr, "hant-client regen: %d of %d %s failed:\n", n_failed, fleet->n,
            hant_plural(fleet->n, "entry", "entries"));
    for (int i = 0; i < fleet->n; i++)
      if (!strcmp(runs[i].status, "failed"))
        fprintf(stderr, "  %s/%s: %s\n", runs[i].fe->device, runs[i].fe->name, runs[i].error);
    code = CLIENT_EXIT_ENTRIES_FAILED;
  }
done:
  client_close(&c);
done_noconn:
  for (int i = 0; runs && i < fleet->n; i++) {
    json_decref(runs[i].doc);
    json_decref(runs[i].inputs);
  }
  for (int d = 0; d < n_rdev; d++) {
    free((void *)rdev[d].front_energy);
    free((void *)rdev[d].front_latency);
  }
  free(runs);
  free(rdev);
  free(rent);
  json_decref(version);
  json_decref(library);
  json_decref(devices);
  hant_fleet_destroy(fleet);
  return code;
}
