/* SPDX-License-Identifier: MIT */
/* library.c: loads a library into an immutable, reference-counted snapshot so selection never touches SQLite, and its teacher network once. */
#include "library.h"

#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "file.h"
#include "netfile.h"
#include "onnx.h"
#include "sha256.h"
#include "slots.h"

/* Loading the teacher reads and hashes a file of megabytes, which a
 * measured solve would otherwise do on every round: the first caller
 * loads it under the lock and publishes it through `ready`, so later
 * callers read it without taking the lock. */
struct hant__library_teacher {
  pthread_mutex_t mu;
  atomic_bool ready; /* net is loaded; set with release order after it is */
  hant_net *net;
};

static void teacher_free(struct hant__library_teacher *t) {
  if (!t)
    return;
  hant_net_destroy(t->net);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

static void library_free(hant_library *lib) {
  if (!lib)
    return;
  teacher_free(lib->teacher_net);
  for (int d = 0; d < lib->n_devices; d++) {
    hant_library_device *dev = &lib->devices[d];
    for (int m = 0; m < dev->n_modes; m++) {
      free(dev->modes[m].latency_ms);
      free(dev->modes[m].energy_mj);
      free(dev->modes[m].memory_bytes);
      free(dev->modes[m].has);
    }
    free(dev->modes);
    hant_device_destroy(dev->profile);
  }
  free(lib->devices);
  free(lib->slots);
  free(lib->cands);
  free(lib->slot_first);
  free(lib->slot_count);
  free(lib->by_id);
  free(lib->profiles);
  free(lib->calib_coef);
  free(lib->kl_slot_weight);
  free(lib->kl_pred_weight);
  free(lib->kl_weight);
  free(lib->int8_score);
  free(lib->int8_val_accuracy);
  free(lib);
}

hant_library *hant_library_ref(hant_library *lib) {
  if (lib)
    atomic_fetch_add(&lib->refs, 1);
  return lib;
}

void hant_library_unref(hant_library *lib) {
  if (lib && atomic_fetch_sub(&lib->refs, 1) == 1)
    library_free(lib);
}

/* Sorting candidate indices by id needs the array; qsort has no context
 * argument, so sort (id, index) pairs instead. */
struct id_idx {
  int64_t id;
  int idx;
};

static int cmp_id_idx(const void *a, const void *b) {
  int64_t x = ((const struct id_idx *)a)->id, y = ((const struct id_idx *)b)->id;
  return x < y ? -1 : x > y;
}

int hant_library_cand_find(const hant_library *lib, int64_t id) {
  int lo = 0, hi = lib->n_cands - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    int64_t v = lib->cands[lib->by_id[mid]].id;
    if (v == id)
      return lib->by_id[mid];
    if (v < id)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

const hant_library_device *hant_library_device_find(const hant_library *lib, const char *name) {
  if (!lib || !name)
    return NULL;
  for (int d = 0; d < lib->n_devices; d++)
    if (!strcmp(lib->devices[d].name, name))
      return &lib->devices[d];
  return NULL;
}

int hant_library_mode_find(const hant_library_device *dev, const char *mode) {
  for (int m = 0; m < dev->n_modes; m++)
    if (!strcmp(dev->modes[m].name, mode))
      return m;
  return -1;
}

/* The teacher file of a library that does not hold it: as recorded if
 * absolute or present, else next to the library. */
static void teacher_file(const char *db_path, const char *recorded, char *out, size_t n) {
  if (recorded[0] == '/' || access(recorded, R_OK) == 0) {
    snprintf(out, n, "%s", recorded);
    return;
  }
  char db[1024];
  snprintf(db, sizeof(db), "%s", db_path);
  int k = snprintf(out, n, "%s/%s", dirname(db), recorded);
  if (k < 0 || (size_t)k >= n)
    snprintf(out, n, "%s", recorded);
}

/* A library built before schema version 4 names its teacher by path only;
 * the path means nothing to a process in another directory (a detached
 * hantd is in /), so a failure says how to make the library hold it. */
static int teacher_from_path(const char *db_path, const hant_teacher_rec *t, hant_net **teacher, char *path,
                             size_t n) {
  char file[1024], sha[65];
  teacher_file(db_path, t->path, file, sizeof(file));
  if (path && n)
    snprintf(path, n, "%s", file);
  int rc = hant_sha256_file(file, sha);
  if (!rc && strcmp(sha, t->sha256))
    rc = hant__error(HANT_EINVAL, "%s: sha256 %.12s... differs from the teacher the library was built from (%.12s...)",
                     file, sha, t->sha256);
  if (rc) {
    char why[512];
    snprintf(why, sizeof(why), "%s", hant_errmsg());
    return hant__error(rc,
                       "%s does not hold its teacher (it was built before libraries stored them) and the file it "
                       "recorded cannot be used: %s; store the teacher in it with 'hant-distill library --db %s "
                       "--store-teacher FILE'",
                       db_path, why, db_path);
  }
  if ((rc = hant_onnx_load_any(file, teacher, NULL)) || (rc = hant_teacher_prepare(*teacher, file))) {
    hant_net_destroy(*teacher);
    *teacher = NULL;
  }
  return rc;
}

int hant_library_teacher_parse(const uint8_t *data, size_t len, const char *name, hant_net **teacher) {
  *teacher = NULL;
  /* Without a directory: bytes in a library have no external data files
   * beside them, so a model that needs one is refused. */
  int rc = len >= 8 && !memcmp(data, "HANTNET1", 8) ? hant_netfile_parse(data, len, name, teacher, NULL)
                                                     : hant_onnx_parse(data, len, name, NULL, teacher, NULL);
  if (!rc)
    rc = hant_teacher_prepare(*teacher, name);
  if (rc) {
    hant_net_destroy(*teacher);
    *teacher = NULL;
  }
  return rc;
}

int hant_library_teacher_load(hant_store *st, const hant_teacher_rec *t, hant_net **teacher, char *path, size_t n) {
  *teacher = NULL;
  if (t->stored_bytes <= 0)
    return teacher_from_path(hant_store_path(st), t, teacher, path, n);
  uint8_t *data;
  size_t len;
  int rc = hant_store_teacher_file(st, t, &data, &len);
  if (rc == HANT_ENOENT) /* removed since t was read */
    return teacher_from_path(hant_store_path(st), t, teacher, path, n);
  if (rc)
    return rc;
  if (path && n)
    snprintf(path, n, "%s", t->path);
  char name[1100];
  snprintf(name, sizeof(name), "%s (teacher %s, stored in the library)", hant_store_path(st), t->path);
  rc = hant_library_teacher_parse(data, len, name, teacher);
  free(data);
  return rc;
}

int hant_library_teacher_store(hant_store *st, hant_teacher_rec *t, const char *path) {
  char *data;
  size_t len;
  int rc = hant_file_read(path, HANT_ONNX_MAX_BYTES, &data, &len);
  if (rc)
    return rc;
  char sha[65];
  hant_sha256 h;
  hant_sha256_init(&h);
  hant_sha256_update(&h, data, len);
  hant_sha256_hex(&h, sha);
  if (strcmp(sha, t->sha256)) {
    free(data);
    return hant__error(HANT_EINVAL,
                       "%s: sha256 %.12s... is not the teacher %s was built from (sha256 %.12s..., recorded as %s)",
                       path, sha, hant_store_path(st), t->sha256, t->path);
  }
  /* What is stored must load on its own, with no file beside it. */
  hant_net *net = NULL;
  if (hant_library_teacher_parse((const uint8_t *)data, len, path, &net)) {
    free(data);
    return hant__error(HANT_ENOTSUP,
                       "%s: its bytes alone are not the model (%s); a library holds one file, so save the teacher "
                       "as a single ONNX file first",
                       path, hant_errmsg());
  }
  hant_net_destroy(net);
  rc = hant_store_teacher_file_put(st, t, (const uint8_t *)data, len);
  free(data);
  return rc;
}

int hant_library_teacher(const hant_library *lib, hant_store *st, const hant_net **teacher) {
  *teacher = NULL;
  if (!lib->has_teacher)
    return hant__error(HANT_ENOENT, "the library is empty: it has no teacher");
  struct hant__library_teacher *t = lib->teacher_net;
  if (!atomic_load_explicit(&t->ready, memory_order_acquire)) {
    pthread_mutex_lock(&t->mu);
    int rc = 0;
    if (!t->net)
      rc = hant_library_teacher_load(st, &lib->teacher, &t->net, NULL, 0);
    if (!rc)
      atomic_store_explicit(&t->ready, true, memory_order_release);
    pthread_mutex_unlock(&t->mu);
    if (rc)
      return rc;
  }
  *teacher = t->net;
  return 0;
}

static int cmp_device(const void *a, const void *b) {
  return strcmp(((const hant_library_device *)a)->name, ((const hant_library_device *)b)->name);
}

/* Adds a mode to dev (if new) and returns its index, or -1 when out of memory. */
static int mode_add(hant_library_device *dev, const char *name, int n_cands) {
  int m = hant_library_mode_find(dev, name);
  if (m >= 0)
    return m;
  hant_library_mode *p = realloc(dev->modes, sizeof(*p) * (size_t)(dev->n_modes + 1));
  if (!p)
    return -1;
  dev->modes = p;
  hant_library_mode *md = &dev->modes[dev->n_modes];
  memset(md, 0, sizeof(*md));
  snprintf(md->name, sizeof(md->name), "%s", name);
  md->idle_w = -1;
  size_t n = (size_t)(n_cands > 0 ? n_cands : 1);
  md->latency_ms = calloc(n, sizeof(double));
  md->energy_mj = calloc(n, sizeof(double));
  md->memory_bytes = calloc(n, sizeof(double));
  md->has = calloc(n, 1);
  dev->n_modes++;
  if (!md->latency_ms || !md->energy_mj || !md->memory_bytes || !md->has)
    return -1;
  return dev->n_modes - 1;
}

static void add_source(hant_library_device *dev, const char *src) {
  if (!*src || strstr(dev->sources, src))
    return;
  size_t l = strlen(dev->sources);
  snprintf(dev->sources + l, sizeof(dev->sources) - l, "%s%s", l ? "," : "", src);
}

/* Orders a device's modes as its profile lists them, and fills idle power. */
static void modes_finish(hant_library_device *dev) {
  if (!dev->profile)
    return;
  const hant_device *d = dev->profile;
  for (int m = 0; m < dev->n_modes; m++) {
    int pm = dev->modes[m].name[0] ? hant_device_mode_find(d, dev->modes[m].name) : -1;
    hant_device_point pt;
    hant_device_point_get(d, pm, &pt);
    if (pm >= 0 || !dev->modes[m].name[0])
      dev->modes[m].idle_w = pt.idle_w;
  }
  /* Insertion sort by profile mode index (unknown modes last). */
  for (int i = 1; i < dev->n_modes; i++) {
    hant_library_mode t = dev->modes[i];
    int ki = hant_device_mode_find(d, t.name);
    ki = ki < 0 ? HANT_DEVICE_MAX_MODES : ki;
    int j = i - 1;
    while (j >= 0) {
      int kj = hant_device_mode_find(d, dev->modes[j].name);
      kj = kj < 0 ? HANT_DEVICE_MAX_MODES : kj;
      if (kj <= ki)
        break;
      dev->modes[j + 1] = dev->modes[j];
      j--;
    }
    dev->modes[j + 1] = t;
  }
}

/* The fit counts only when it covers every candidate: a candidate built
 * after it has no coefficient, and mixing coefficients with raw scores
 * would compare numbers on different scales. */
/* The weight of a nat of divergence in each slot: the calibration's
 * (meta calibration_slot_kl_weights, one number per slot, or "none")
 * when it fitted them for this many slots, else kl_slope; in the objective
 * only when meta calibration_slot_kl_objective is "true". And the scale of
 * the prediction's chance floor (meta calibration_floor_scale, in [0, 1]). */
static int kl_weights_load(hant_store *st, hant_library *lib) {
  if (!lib->has_divergence)
    return 0;
  size_t nc = (size_t)(lib->n_cands > 0 ? lib->n_cands : 1);
  lib->kl_slot_weight = malloc(sizeof(double) * (size_t)(lib->n_slots + 1));
  lib->kl_pred_weight = malloc(sizeof(double) * nc);
  lib->kl_weight = malloc(sizeof(double) * nc);
  if (!lib->kl_slot_weight || !lib->kl_pred_weight || !lib->kl_weight)
    return HANT_ENOMEM;
  char *text = NULL, *obj = NULL, *floor = NULL;
  if (!hant_store_meta_get(st, "calibration_floor_scale", &floor))
    lib->kl_floor_scale = hant_library_floor_scale_parse(floor);
  free(floor);
  lib->kl_slot_weighted = !hant_store_meta_get(st, "calibration_slot_kl_weights", &text) && text &&
                          hant_library_slot_weights_parse(text, lib->kl_slot_weight, lib->n_slots + 1) == lib->n_slots;
  lib->kl_slot_objective = lib->kl_slot_weighted && !hant_store_meta_get(st, "calibration_slot_kl_objective", &obj) &&
                           obj && !strcmp(obj, "true");
  hant_errmsg_clear();
  free(text);
  free(obj);
  for (int s = 0; s < lib->n_slots; s++) {
    if (!lib->kl_slot_weighted)
      lib->kl_slot_weight[s] = lib->kl_slope;
    for (int i = 0; i < lib->slot_count[s]; i++) {
      int c = lib->slot_first[s] + i;
      lib->kl_pred_weight[c] = lib->kl_slot_weight[s];
      lib->kl_weight[c] = lib->kl_slot_objective ? lib->kl_slot_weight[s] : lib->kl_slope;
    }
  }
  return 0;
}

double hant_library_floor_scale_parse(const char *text) {
  if (!text)
    return 0;
  char *end;
  double v = strtod(text, &end);
  return end != text && !*end && v >= 0 && v <= 1 ? v : 0; /* a scale beyond all accuracy: none */
}

int hant_library_slot_weights_parse(const char *text, double *w, int max) {
  int n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || v < 0 || n >= max)
      return -1;
    w[n++] = v;
    p = end;
    if (*p == ',' && p[1]) /* a comma must lead to another weight */
      p++;
    else if (*p)
      return -1;
  }
  return n;
}

static int calib_load(hant_store *st, hant_library *lib) {
  hant_calib_coef_rec *coefs = NULL;
  int n = 0, rc = hant_store_calib_fit_get(st, &lib->calib, &coefs, &n);
  if (rc == HANT_ENOENT) {
    hant_errmsg_clear();
    return 0;
  }
  if (rc)
    return rc;
  if (lib->n_cands && !(lib->calib_coef = malloc(sizeof(double) * (size_t)lib->n_cands))) {
    free(coefs);
    return HANT_ENOMEM;
  }
  unsigned char *seen = calloc((size_t)(lib->n_cands > 0 ? lib->n_cands : 1), 1);
  if (!seen) {
    free(coefs);
    return HANT_ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    int c = hant_library_cand_find(lib, coefs[i].candidate_id);
    if (c >= 0) {
      lib->calib_coef[c] = coefs[i].coef;
      seen[c] = 1;
    }
  }
  for (int c = 0; c < lib->n_cands; c++)
    lib->calib_missing += !seen[c];
  lib->calibrated = lib->n_cands > 0 && lib->calib_missing == 0;
  char *obj = NULL, *tau = NULL;
  lib->calib_additive_tau = NAN;
  if (!hant_store_meta_get(st, "calibration_additive_tau", &tau) && tau)
    lib->calib_additive_tau = strtod(tau, NULL);
  lib->calib_objective = lib->calibrated && !hant_store_meta_get(st, "calibration_objective", &obj) && obj &&
                         !strcmp(obj, "calibrated");
  char *pred = NULL, *dj = NULL;
  if (lib->calibrated && lib->has_divergence && !hant_store_meta_get(st, "calibration_prediction", &pred) && pred &&
      !strcmp(pred, "divergence") && !hant_store_meta_get(st, "calibration_divergence_median_abs_err", &dj) && dj) {
    char *end;
    double v = strtod(dj, &end);
    lib->calib_by_divergence = end != dj && isfinite(v);
    lib->calib_div_median_abs_err = v;
  }
  hant_errmsg_clear();
  free(pred);
  free(dj);
  free(obj);
  free(tau);
  if (!lib->calibrated) {
    free(lib->calib_coef);
    lib->calib_coef = NULL;
  }
  free(seen);
  free(coefs);
  return 0;
}

/* The int8 scores beside the fp32 ones; a library without an int8
 * teacher (never quantised, or migrated from before schema 7) has none. */
static int int8_load(hant_store *st, hant_library *lib) {
  int rc = hant_store_int8_teacher_get(st, &lib->int8);
  if (rc == HANT_ENOENT)
    return 0;
  if (rc)
    return rc;
  hant_cand_int8_rec *rows = NULL;
  int n = 0;
  if ((rc = hant_store_int8_scores(st, &rows, &n)))
    return rc;
  size_t nc = (size_t)(lib->n_cands > 0 ? lib->n_cands : 1);
  lib->int8_score = malloc(sizeof(double) * nc);
  lib->int8_val_accuracy = malloc(sizeof(double) * nc);
  if (!lib->int8_score || !lib->int8_val_accuracy) {
    free(rows);
    return HANT_ENOMEM;
  }
  for (int c = 0; c < lib->n_cands; c++)
    lib->int8_score[c] = lib->int8_val_accuracy[c] = NAN;
  for (int i = 0; i < n; i++) {
    int c = hant_library_cand_find(lib, rows[i].candidate_id);
    if (c >= 0 && isnan(lib->int8_score[c])) {
      lib->int8_score[c] = rows[i].score;
      lib->int8_val_accuracy[c] = rows[i].val_accuracy;
      lib->int8_scored++;
    }
  }
  free(rows);
  lib->has_int8 = true;
  return 0;
}

int hant_library_load(hant_store *st, const char *devices_dir, hant_library **out) {
  *out = NULL;
  double t0 = hant_now_s();
  hant_library *lib = calloc(1, sizeof(*lib));
  if (!lib)
    return HANT_ENOMEM;
  atomic_init(&lib->refs, 1);
  if (!(lib->teacher_net = calloc(1, sizeof(*lib->teacher_net)))) {
    free(lib);
    return HANT_ENOMEM;
  }
  pthread_mutex_init(&lib->teacher_net->mu, NULL);
  atomic_init(&lib->teacher_net->ready, false);
  snprintf(lib->path, sizeof(lib->path), "%s", hant_store_path(st));
  hant_device_rec *drecs = NULL;
  int nd = 0;
  hant_cost_rec *costs = NULL;
  int ncost = 0;
  struct id_idx *ids = NULL;
  int rc = hant_store_library_version(st, &lib->version);
  if (rc)
    goto fail;
  rc = hant_store_teacher_get(st, &lib->teacher);
  if (rc == 0)
    lib->has_teacher = true;
  else if (rc != HANT_ENOENT)
    goto fail;
  rc = hant_build_settings_get(st, &lib->build);
  if (rc == 0)
    lib->has_build = true;
  else if (rc != HANT_ENOENT)
    goto fail;
  rc = 0;
  hant_errmsg_clear();
  if ((rc = hant_store_slots(st, &lib->slots, &lib->n_slots)) ||
      (rc = hant_store_candidates(st, -1, &lib->cands, &lib->n_cands)))
    goto fail;
  size_t ns = (size_t)(lib->n_slots > 0 ? lib->n_slots : 1), nc = (size_t)(lib->n_cands > 0 ? lib->n_cands : 1);
  lib->slot_first = calloc(ns, sizeof(int));
  lib->slot_count = calloc(ns, sizeof(int));
  lib->by_id = calloc(nc, sizeof(int));
  ids = calloc(nc, sizeof(*ids));
  if (!lib->slot_first || !lib->slot_count || !lib->by_id || !ids) {
    rc = HANT_ENOMEM;
    goto fail;
  }
  /* Candidates come ordered by slot; slots by index. Map slot ids to positions. */
  for (int s = 0; s < lib->n_slots; s++)
    lib->slot_first[s] = -1;
  int s = 0;
  for (int i = 0; i < lib->n_cands; i++) {
    while (s < lib->n_slots && lib->slots[s].id != lib->cands[i].slot_id)
      s++;
    if (s == lib->n_slots) {
      /* Not in slot order: fall back to a search (never expected). */
      for (s = 0; s < lib->n_slots && lib->slots[s].id != lib->cands[i].slot_id; s++)
        ;
      if (s == lib->n_slots || lib->slot_count[s]) {
        rc = hant__error(HANT_EFORMAT, "%s: candidate %lld belongs to no slot of the teacher", lib->path,
                         (long long)lib->cands[i].id);
        goto fail;
      }
    }
    if (lib->slot_first[s] < 0)
      lib->slot_first[s] = i;
    lib->slot_count[s]++;
    ids[i].id = lib->cands[i].id;
    ids[i].idx = i;
  }
  for (int k = 0; k < lib->n_slots; k++)
    if (lib->slot_first[k] < 0)
      lib->slot_first[k] = 0;
  if (lib->n_cands > 1)
    qsort(ids, (size_t)lib->n_cands, sizeof(*ids), cmp_id_idx);
  for (int i = 0; i < lib->n_cands; i++)
    lib->by_id[i] = ids[i].idx;

  if ((rc = hant_store_devices(st, &drecs, &nd)))
    goto fail;
  if (nd) {
    lib->devices = calloc((size_t)nd, sizeof(*lib->devices));
    if (!lib->devices) {
      rc = HANT_ENOMEM;
      goto fail;
    }
  }
  lib->n_devices = nd;
  for (int d = 0; d < nd; d++) {
    hant_library_device *dev = &lib->devices[d];
    snprintf(dev->name, sizeof(dev->name), "%s", drecs[d].name);
    snprintf(dev->profile_sha256, sizeof(dev->profile_sha256), "%s", drecs[d].profile_sha256);
    const char *text = drecs[d].profile ? drecs[d].profile : "";
    char label[96];
    snprintf(label, sizeof(label), "library profile of %s", dev->name);
    if (hant_device_parse(text, strlen(text), label, &dev->profile)) {
      dev->profile = NULL;
      snprintf(dev->profile_error, sizeof(dev->profile_error), "%s", hant_errmsg());
    }
    hant_errmsg_clear();
    if (hant_additivity_load(st, dev->name, &dev->additivity) == 0 && dev->additivity.batch <= 1 &&
        dev->additivity.factor > 0)
      dev->has_additivity = true;
    hant_errmsg_clear();
  }
  if (nd > 1)
    qsort(lib->devices, (size_t)nd, sizeof(*lib->devices), cmp_device);

  if ((rc = hant_store_costs(st, NULL, &costs, &ncost)))
    goto fail;
  for (int i = 0; i < ncost; i++) {
    const hant_cost_rec *c = &costs[i];
    if (c->batch != 1)
      continue;
    hant_library_device *dev = (hant_library_device *)hant_library_device_find(lib, c->device);
    int ci = hant_library_cand_find(lib, c->candidate_id);
    if (!dev || ci < 0)
      continue;
    int m = mode_add(dev, c->power_mode, lib->n_cands);
    if (m < 0) {
      rc = HANT_ENOMEM;
      goto fail;
    }
    hant_library_mode *md = &dev->modes[m];
    md->latency_ms[ci] = c->latency_ms;
    md->energy_mj[ci] = c->energy_mj;
    md->memory_bytes[ci] = c->memory_bytes > 0 ? (double)c->memory_bytes
                                               : 4.0 * (double)lib->cands[ci].params + (double)lib->cands[ci].peak_act_bytes;
    if (!md->has[ci])
      md->n_costed++;
    md->has[ci] = 1;
    add_source(dev, c->source);
  }
  for (int d = 0; d < nd; d++)
    modes_finish(&lib->devices[d]);

  lib->has_divergence = hant_library_divergence(lib->cands, lib->n_cands, &lib->kl_measured, &lib->kl_slope);
  if ((rc = kl_weights_load(st, lib)))
    goto fail;
  if ((rc = int8_load(st, lib)))
    goto fail;
  if ((rc = calib_load(st, lib)))
    goto fail;

  if (hant_device_list(devices_dir, &lib->profiles, &lib->n_profiles)) {
    lib->profiles = NULL;
    lib->n_profiles = 0;
  }
  hant_errmsg_clear();
  lib->load_ms = (hant_now_s() - t0) * 1e3;
  hant_store_devices_free(drecs, nd);
  free(costs);
  free(ids);
  *out = lib;
  return 0;
fail:
  hant_store_devices_free(drecs, nd);
  free(costs);
  free(ids);
  library_free(lib);
  return rc;
}

bool hant_library_divergence(const hant_cand_rec *cands, int n, int *measured, double *slope) {
  double num = 0, den = 0;
  *measured = 0;
  for (int c = 0; c < n; c++) {
    double kl = cands[c].val_kl;
    if (cands[c].kl_images <= 0)
      continue;
    ++*measured;
    if (kl > 0 && kl <= HANT_LIBRARY_KL_FIT_MAX) {
      num += kl * -cands[c].score;
      den += kl * kl;
    }
  }
  *slope = den > 0 ? num / den : 0;
  return n > 0 && *measured == n && *slope > 0;
}

int hant_library_int8_view(const hant_library *lib, const hant_library_device *dev, hant_library **view,
                           int *missing) {
  *view = NULL;
  int miss = 0, costed = 0;
  for (int c = 0; c < lib->n_cands; c++) {
    bool has = false;
    for (int m = 0; m < dev->n_modes && !has; m++)
      has = dev->modes[m].has[c];
    costed += has;
    miss += has && (!lib->has_int8 || isnan(lib->int8_score[c]));
  }
  *missing = miss;
  if (!lib->has_int8 || miss || !costed)
    return 0;
  hant_library *v = malloc(sizeof(*v));
  hant_cand_rec *cands = malloc(sizeof(*cands) * (size_t)lib->n_cands);
  double *cost = lib->has_divergence ? calloc((size_t)lib->n_cands, sizeof(*cost)) : NULL;
  if (!v || !cands || (lib->has_divergence && !cost)) {
    free(v);
    free(cands);
    free(cost);
    return hant__error(HANT_ENOMEM, "no memory for the library's int8 view");
  }
  memcpy(v, lib, sizeof(*v));
  memcpy(cands, lib->cands, sizeof(*cands) * (size_t)lib->n_cands);
  /* a candidate not costed on dev keeps its fp32 score: a problem on dev
   * never sees it (it is skipped for lack of a cost row) */
  for (int c = 0; c < lib->n_cands; c++)
    if (!isnan(lib->int8_score[c])) {
      if (cost)
        cost[c] = fmin(0, lib->int8_score[c] - lib->cands[c].score);
      cands[c].score = lib->int8_score[c];
      cands[c].val_accuracy = lib->int8_val_accuracy[c];
    }
  v->cands = cands;
  v->int8_cost = cost;
  v->teacher.val_accuracy = lib->int8.val_accuracy;
  v->teacher.val_images = lib->int8.val_images;
  v->calibrated = false;
  v->calib_objective = false;
  /* the divergences (fp32) stay the objective, each candidate's int8 cost
   * added: a 5,000-image int8 score moves in steps the size of its
   * standard error, and ranked alone it takes noise gains as the fp32
   * scores did; the paired int8-minus-fp32 loss keeps what quantising
   * really costs a candidate */
  v->calib_coef = NULL;
  *view = v;
  return 0;
}

void hant_library_view_free(hant_library *view) {
  if (!view)
    return;
  free(view->cands);
  free(view->int8_cost);
  free(view);
}
