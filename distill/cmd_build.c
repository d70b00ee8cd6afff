/* SPDX-License-Identifier: MIT */
/* cmd_build.c: `hant-distill build` distils the operator library of a teacher into SQLite. */
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hant.h"
#include "shard.h"

static const char usage[] =
    "usage: hant-distill build --teacher T.onnx|T.hant --db LIBRARY.db [options]\n"
    "\n"
    "Builds the operator library: for every slot of the teacher, every candidate of\n"
    "the chosen families is trained by layer-wise distillation (MSE on the slot's\n"
    "output) on the training split, scored by the teacher's validation accuracy\n"
    "with only that slot replaced, and committed to LIBRARY.db on its own. A rerun\n"
    "resumes where a killed build stopped. With --calibrate, the accuracy predictor\n"
    "is then calibrated on assembled networks (hant-distill calibrate).\n"
    "\n"
    "Presets name a whole set of settings; options given with one override it:\n"
    "  full   every family and candidate, all 55000 training and 5000 validation\n"
    "         images, up to 3 epochs (2 for candidates that start from the\n"
    "         teacher's weights), each candidate stopping once an epoch lowers\n"
    "         its validation feature loss by less than 2%, dws, ir and group\n"
    "         starting from a least-squares fit of their last conv (--init lsq)\n"
    "         (the default; 264 candidates of the default teacher)\n"
    "  quick  identity, width, prune, lowrank, at most 2 candidates per family\n"
    "         and slot (the ends of each family's range), 4096 training and 1000\n"
    "         validation images, 1 epoch (50 candidates, a few minutes)\n"
    "The library records its settings (hant-distill library shows them), and a\n"
    "rerun must train the way the library was trained (images, epochs, plateau,\n"
    "batch, seed, init).\n"
    "\n";

struct ui {
  bool json, tty;
  hant_store *st;      /* rank 0 of an MPI job commits other ranks' results */
  shard_totals *shards;
  double last;
  double t_start;
  int done0;         /* candidates in the library before this run */
  double work_done0; /* and their work, MACs */
  bool seen; /* done0 is set from the first event */
};

static void bar(char *out, int width, double f) {
  int fill = (int)(f * width + 0.5);
  for (int i = 0; i < width; i++)
    out[i] = i < fill ? '#' : '.';
  out[width] = '\0';
}

static void on_event(void *user, const hant_distill_event *e) {
  struct ui *u = user;
  if (!u->seen) {
    /* The first event comes before any candidate of this run finishes. */
    u->done0 = e->done;
    u->work_done0 = e->work_done;
    u->seen = true;
  }
  if (u->shards)
    shard_drain(u->st, u->shards);
  if (u->json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    static const char *const kinds[] = {"slot", "progress", "candidate", "done", "round"};
    hant_jsonw_key(&w, "event"), hant_jsonw_str(&w, kinds[e->kind]);
    hant_jsonw_key(&w, "slot"), hant_jsonw_str(&w, e->slot_name ? e->slot_name : "");
    hant_jsonw_key(&w, "slot_done"), hant_jsonw_int(&w, e->slot_done);
    hant_jsonw_key(&w, "slot_total"), hant_jsonw_int(&w, e->slot_total);
    hant_jsonw_key(&w, "done"), hant_jsonw_int(&w, e->done);
    hant_jsonw_key(&w, "total"), hant_jsonw_int(&w, e->total);
    hant_jsonw_key(&w, "chunk_fraction"), hant_jsonw_num(&w, e->chunk_frac);
    hant_jsonw_key(&w, "elapsed_s"), hant_jsonw_num(&w, e->elapsed_s);
    if (e->kind == HANT_DISTILL_EV_ROUND) {
      hant_jsonw_key(&w, "key"), hant_jsonw_str(&w, e->round_key);
      hant_jsonw_key(&w, "round"), hant_jsonw_int(&w, e->round);
      hant_jsonw_key(&w, "val_loss"), hant_jsonw_num(&w, e->round_loss);
      hant_jsonw_key(&w, "stop"), hant_jsonw_bool(&w, e->round_stop);
    }
    if (e->cand) {
      hant_jsonw_key(&w, "candidate");
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "id"), hant_jsonw_int(&w, e->cand->id);
      hant_jsonw_key(&w, "key"), hant_jsonw_str(&w, e->cand->key);
      hant_jsonw_key(&w, "family"), hant_jsonw_str(&w, e->cand->family);
      hant_jsonw_key(&w, "score"), hant_jsonw_num(&w, e->cand->score);
      hant_jsonw_key(&w, "loss_init"), hant_jsonw_num(&w, e->cand->loss_init);
      hant_jsonw_key(&w, "loss_final"), hant_jsonw_num(&w, e->cand->loss_final);
      hant_jsonw_key(&w, "train_samples"), hant_jsonw_int(&w, e->cand->train_samples);
      hant_jsonw_key(&w, "macs"), hant_jsonw_num(&w, e->cand->macs);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
    return;
  }
  if (e->kind == HANT_DISTILL_EV_ROUND) {
    if (!u->tty)
      fprintf(stderr, "%s: %-26s epoch %d: validation mse %.4g%s\n", e->slot_name, e->round_key, e->round,
              e->round_loss, e->round_stop ? ", done" : "");
    return;
  }
  if (e->kind == HANT_DISTILL_EV_CANDIDATE && !u->tty)
    fprintf(stderr, "%s: %-26s %-8s score %+.4f  mse %.4g -> %.4g  %.2f MMAC\n", e->slot_name, e->cand->key,
            e->cand->family, e->cand->score, e->cand->loss_init, e->cand->loss_final, e->cand->macs / 1e6);
  if (!u->tty)
    return;
  double now = hant_now_s();
  if (now - u->last < 0.2 && e->kind == HANT_DISTILL_EV_PROGRESS)
    return;
  u->last = now;
  /* Overall progress counts the chunk in flight fractionally. The ETA
   * weighs by work, not candidates: the last, largest slot may hold most
   * of what is left. */
  double cur = e->kind == HANT_DISTILL_EV_PROGRESS ? e->chunk_frac * e->chunk_size : 0.0;
  double wcur = e->kind == HANT_DISTILL_EV_PROGRESS ? e->chunk_frac * e->chunk_work : 0.0;
  double eta = hant_progress_eta_s(now - u->t_start, e->work_done + wcur - u->work_done0,
                                   e->work_total - e->work_done - wcur);
  double fs = e->slot_total ? (e->slot_done + cur) / e->slot_total : 1.0;
  double fa = e->total ? (e->done + cur) / e->total : 1.0;
  char b1[21], b2[31];
  bar(b1, 20, fs > 1 ? 1 : fs);
  bar(b2, 30, fa > 1 ? 1 : fa);
  fprintf(stderr, "\r\033[K%-7s [%s] %3d/%-3d  all [%s] %4d/%-4d eta %dh%02dm", e->slot_name ? e->slot_name : "", b1,
          e->slot_done, e->slot_total, b2, e->done, e->total, (int)(eta / 3600), (int)eta / 60 % 60);
  if (e->kind == HANT_DISTILL_EV_DONE)
    fputs("\r\033[K", stderr);
  fflush(stderr);
}

/* Rank 0 of an MPI job: write our own result, then whatever other ranks sent. */
static int rank0_sink(void *user, hant_distill_result *r) {
  struct ui *u = user;
  int rc = hant_distill_store_sink(u->st, r);
  return rc ? rc : shard_drain(u->st, u->shards);
}

/* Lists what a build would train, per slot and family, without training. */
static int dry_run(const char *teacher_path, unsigned mask, const hant_build_settings *bs, const char *slots,
                   bool json) {
  hant_net *t = NULL;
  int rc = hant_onnx_load_any(teacher_path, &t, NULL);
  if (rc || (rc = hant_teacher_prepare(t, teacher_path)) || (rc = hant_distill_slots_check(t, slots))) {
    fprintf(stderr, "hant-distill build: %s\n", hant_errmsg());
    hant_net_destroy(t);
    return EXIT_FAIL;
  }
  hant_jsonw w;
  if (json) {
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "preset"), hant_jsonw_str(&w, bs->preset);
    hant_jsonw_key(&w, "families"), hant_jsonw_str(&w, bs->families);
    hant_jsonw_key(&w, "per_family"), hant_jsonw_int(&w, bs->per_family);
    hant_jsonw_key(&w, "init"), hant_jsonw_str(&w, bs->init[0] ? bs->init : "random");
    hant_jsonw_key(&w, "slots");
    hant_jsonw_arr_begin(&w);
  } else if (bs->preset[0]) {
    printf("preset  %s\n", bs->preset);
  }
  int total = 0;
  for (int s = 0; s < t->n_slots && !rc; s++) {
    if (!hant_distill_slot_wanted(slots, t->slots[s].name))
      continue;
    hant_cand_spec *specs = NULL;
    int n = 0, per[HANT_FAMILY_COUNT] = {0};
    if ((rc = hant_family_generate(t, s, mask, &specs, &n))) {
      fprintf(stderr, "hant-distill build: %s\n", hant_errmsg());
      break;
    }
    n = hant_family_thin(specs, n, bs->per_family);
    for (int j = 0; j < n; j++)
      per[specs[j].family]++;
    total += n;
    if (json) {
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "name"), hant_jsonw_str(&w, t->slots[s].name);
      hant_jsonw_key(&w, "arch"), hant_jsonw_str(&w, t->slots[s].desc);
      hant_jsonw_key(&w, "candidates"), hant_jsonw_int(&w, n);
      hant_jsonw_key(&w, "families");
      hant_jsonw_obj_begin(&w);
      for (int f = 0; f < HANT_FAMILY_COUNT; f++)
        if (per[f])
          hant_jsonw_key(&w, hant_family_name((hant_family)f)), hant_jsonw_int(&w, per[f]);
      hant_jsonw_obj_end(&w);
      hant_jsonw_key(&w, "keys");
      hant_jsonw_arr_begin(&w);
      for (int j = 0; j < n; j++)
        hant_jsonw_str(&w, specs[j].key);
      hant_jsonw_arr_end(&w);
      hant_jsonw_obj_end(&w);
    } else {
      printf("%-7s %-28s %3d candidates:", t->slots[s].name, t->slots[s].desc, n);
      for (int f = 0; f < HANT_FAMILY_COUNT; f++)
        if (per[f])
          printf(" %s %d", hant_family_name((hant_family)f), per[f]);
      printf("\n");
    }
    free(specs);
  }
  if (json) {
    hant_jsonw_arr_end(&w);
    hant_jsonw_key(&w, "total"), hant_jsonw_int(&w, total);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else if (!rc) {
    printf("total   %d candidates\n", total);
  }
  hant_net_destroy(t);
  return rc ? EXIT_FAIL : EXIT_OK_;
}

/* "--preset quick (4096 training images, 1 epoch, batch 64, seed 1)". */
static void describe(const hant_build_settings *b, char *out, size_t n) {
  int k = snprintf(out, n, "%s%s%s", b->preset[0] ? "--preset " : "", b->preset, b->preset[0] ? " (" : "");
  int et = b->epochs_teacher > 0 ? b->epochs_teacher : b->epochs;
  char ep[96];
  if (et == b->epochs && b->plateau == 0)
    snprintf(ep, sizeof(ep), "%d epoch%s", b->epochs, b->epochs == 1 ? "" : "s");
  else
    snprintf(ep, sizeof(ep), "up to %d epoch%s (%d from the teacher's weights), plateau %g%%", b->epochs,
             b->epochs == 1 ? "" : "s", et, 100 * b->plateau);
  k += snprintf(out + k, n - (size_t)k, "%d training images, %s, batch %d, seed %llu", b->samples, ep, b->batch,
                (unsigned long long)b->seed);
  if (b->recipe != HANT_BUILD_RECIPE && (size_t)k < n)
    k += snprintf(out + k, n - (size_t)k, ", recipe %d", b->recipe);
  if (b->init[0] && strcmp(b->init, "random") && (size_t)k < n)
    k += snprintf(out + k, n - (size_t)k, ", --init %s", b->init);
  /* The normalisation, when there is one: a library cannot mix two. */
  for (int i = 0; i < b->norm_k && i < 4 && (size_t)k < n; i++)
    k += snprintf(out + k, n - (size_t)k, "%s%g", i ? "," : ", --mean ", (double)b->mean[i]);
  for (int i = 0; i < b->norm_k && i < 4 && (size_t)k < n; i++)
    k += snprintf(out + k, n - (size_t)k, "%s%g", i ? "," : " --std ", (double)b->std[i]);
  if ((size_t)k < n)
    snprintf(out + k, n - (size_t)k, "%s", b->preset[0] ? ")" : "");
}

/* Refuses to mix candidates trained differently in one library, then
 * records this build's settings. */
static int record_settings(hant_store *st, const hant_build_settings *bs) {
  hant_build_settings old;
  int rc = hant_build_settings_get(st, &old);
  if (rc == 0 && !hant_build_settings_same_training(&old, bs)) {
    char was[400], now[400];
    describe(&old, was, sizeof(was));
    describe(bs, now, sizeof(now));
    return hant__error(HANT_EINVAL,
                       "%s: this library was built with %s, this build asks for %s; candidates trained "
                       "differently are not comparable: rerun with the library's settings or use another --db",
                       hant_store_path(st), was, now);
  }
  if (rc && rc != HANT_ENOENT)
    return rc;
  return hant_build_settings_put(st, bs);
}

static void join_args(int argc, char **argv, char *out, size_t n) {
  size_t k = snprintf(out, n, "hant-distill");
  for (int i = 0; i < argc && k < n; i++)
    k += snprintf(out + k, n - k, " %s", argv[i]);
}

/* An image folder's class names, label by label, as the meta row
 * "data.classes" (a JSON array): what the network's outputs mean. */
static int record_classes(hant_store *st, const hant_data_spec *spec) {
  hant_data_format f = spec->format;
  bool fmnist = !spec->data || !strcmp(spec->data, "fmnist");
  if (fmnist || (f == HANT_DATA_AUTO && hant_data_detect(spec->data, &f)) || f != HANT_DATA_FOLDER)
    return 0;
  char **names = NULL;
  int n = 0, rc = hant_folder_classes(spec->data, &names, &n);
  if (rc)
    return rc;
  size_t cap = 16;
  for (int i = 0; i < n; i++)
    cap += 6 * strlen(names[i]) + 4; /* room for every byte escaped */
  char *text = malloc(cap);
  if (!text) {
    hant_folder_classes_free(names, n);
    return hant__error(HANT_ENOMEM, "out of memory for %d class names", n);
  }
  hant_jsonw w;
  hant_jsonw_init_buf(&w, text, cap);
  hant_jsonw_arr_begin(&w);
  for (int i = 0; i < n; i++)
    hant_jsonw_str(&w, names[i]);
  hant_jsonw_arr_end(&w);
  rc = hant_jsonw_error(&w) ? hant__error(hant_jsonw_error(&w), "class names do not fit in %zu bytes", cap)
                            : hant_store_meta_put(st, "data.classes", text);
  free(text);
  hant_folder_classes_free(names, n);
  return rc;
}

int cmd_build(int argc, char **argv) {
  data_args da = DATA_ARGS_DEFAULT;
  const char *teacher_path = NULL, *db = NULL, *families = NULL, *slot_list = NULL, *preset = NULL, *init = NULL;
  /* -1 (NULL for families): not given, so the preset's value holds. */
  long epochs = -1, epochs_teacher = -1, batch = -1, samples = -1, val_samples = -1, per_family = -1, jobs = hant_cpu_count(), chunk = 0,
       seed = -1;
  double grid = HANT_GRID_G_PER_KWH_DEFAULT, plateau = -1;
  bool json = false, dry = false, calibrate = false;
  calibrate_args ca = CALIBRATE_ARGS_DEFAULT;
  char grid_help[96];
  snprintf(grid_help, sizeof(grid_help), "grid carbon intensity, gCO2/kWh (default %.0f, IEA 2019 world average)",
           HANT_GRID_G_PER_KWH_DEFAULT);
  const hant_opt opts[] = {
      HANT_OPT_STRING("teacher", 0, &teacher_path, "FILE", "the teacher, ONNX or hant's native format (required)"),
      HANT_OPT_STRING("preset", 0, &preset, "NAME",
                      "quick or full: a named set of the settings below\n"
                      "(default full); options given with it override it"),
      HANT_OPT_STRING("db", 0, &db, "FILE", "the library; created if missing (required)"),
      DATA_OPTS(da, "training and validation images", "fmnist"),
      NORM_OPTS(da),
      HANT_OPT_STRING("families", 0, &families, "LIST",
                      "comma-separated: identity, width, kernel, dws, ir, lowrank,\n"
                      "group, prune, or all (default all); the teacher's own\n"
                      "block is always kept"),
      HANT_OPT_INT("per-family", 0, &per_family, 0, 1000, "N",
                   "at most N candidates per family and slot, spread from\n"
                   "the family's smallest to its largest (default 0: all)"),
      HANT_OPT_INT("epochs", 0, &epochs, 1, 1000, "E",
                   "most distillation epochs of a randomly initialised\n"
                   "candidate (the preset's)"),
      HANT_OPT_INT("epochs-teacher", 0, &epochs_teacher, 1, 1000, "E",
                   "most epochs of a candidate initialised from the\n"
                   "teacher's weights (the preset's)"),
      HANT_OPT_DOUBLE("plateau", 0, &plateau, 0, 1, "F",
                      "stop a candidate after an epoch that lowered its\n"
                      "validation feature loss by less than this fraction\n"
                      "(the preset's; 0: train every epoch allowed)"),
      HANT_OPT_STRING("init", 0, &init, "HOW",
                      "how dws, ir and group candidates start: random (group:\n"
                      "the teacher's block-diagonal weights), or lsq (then their\n"
                      "last conv fitted to the teacher's slot output by least\n"
                      "squares on 512 training images; the preset's: lsq in\n"
                      "full, random in quick)"),
      HANT_OPT_INT("batch", 0, &batch, 1, 4096, "N", "(default 64)"),
      HANT_OPT_INT("samples", 0, &samples, 1, 1 << 24, "N",
                   "use the first N training images (default all: 55000 of\nFashion-MNIST)"),
      HANT_OPT_INT("val-samples", 0, &val_samples, 1, 1 << 24, "M",
                   "use the first M validation images (default all: 5000 of\nFashion-MNIST)"),
      HANT_OPT_INT("jobs", 0, &jobs, 1, 64, "J", "worker threads, each with an equal share of the cores (default: cores)"),
      HANT_OPT_INT("chunk", 0, &chunk, 1, 4096, "N",
                   "candidates trained together, sharing the teacher's passes;\nthe results do not depend on it (default 16 x jobs, fewer\nwhen their activations would take over half the memory:\nthe default teacher's build peaks at 10.2 GB with 32)"),
      HANT_OPT_STRING("slots", 0, &slot_list, "LIST", "only these slots, e.g. slot0,slot3 (default all)"),
      HANT_OPT_INT("seed", 0, &seed, 0, 1L << 40, "N", "(default 1)"),
      HANT_OPT_DOUBLE("grid", 0, &grid, 0, 5000, "G", grid_help),
      HANT_OPT_FLAG("calibrate", 0, &calibrate,
                    "then calibrate the accuracy predictor (as hant-distill\n"
                    "calibrate; its options below)"),
      CALIBRATE_OPTS(ca),
      HANT_OPT_FLAG("dry-run", 0, &dry, "list the candidates each slot would get, per family, and stop"),
      HANT_OPT_FLAG("json", 0, &json, "progress events and the summary as JSON lines on stdout"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill build",
                            .usage = usage,
                            .footer = "\nExit status: 0 built, 1 failed, 2 usage error.\n",
                            .column = 22,
                            .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!teacher_path || (!db && !dry))
    return cli_usage_error(&cmd, "--teacher FILE and --db FILE are required");
  /* The preset first, then every option given on the command line. */
  hant_build_settings bs;
  if (hant_build_preset(preset ? preset : "full", &bs))
    return cli_usage_error(&cmd, "--preset: %s", hant_errmsg());
  if (!preset)
    bs.preset[0] = '\0'; /* today's defaults, but no preset was named */
  if (families)
    snprintf(bs.families, sizeof(bs.families), "%s", families);
  if (per_family >= 0)
    bs.per_family = (int)per_family;
  if (samples >= 0)
    bs.samples = (int)samples;
  if (val_samples >= 0)
    bs.val_samples = (int)val_samples;
  if (epochs >= 0)
    bs.epochs = (int)epochs;
  if (epochs_teacher >= 0)
    bs.epochs_teacher = (int)epochs_teacher;
  if (plateau >= 0)
    bs.plateau = plateau;
  if (batch >= 0)
    bs.batch = (int)batch;
  if (init) {
    if (hant_distill_init_from_name(init) == HANT_DISTILL_INIT_COUNT)
      return cli_usage_error(&cmd, "--init: expected %s, got '%s'", hant_distill_init_names(), init);
    snprintf(bs.init, sizeof(bs.init), "%s", init);
  }
  if (seed >= 0)
    bs.seed = (uint64_t)seed;
  hant_distill_opts o;
  hant_distill_opts_default(&o);
  unsigned mask;
  if (hant_family_mask(bs.families, &mask))
    return cli_usage_error(&cmd, "--families: %s", hant_errmsg());
  o.families = mask;
  o.per_family = bs.per_family;
  o.epochs = bs.epochs;
  o.epochs_teacher = bs.epochs_teacher;
  o.plateau = bs.plateau;
  o.batch = bs.batch;
  o.init = bs.init[0] ? hant_distill_init_from_name(bs.init) : HANT_DISTILL_INIT_RANDOM;
  o.jobs = (int)jobs;
  o.chunk = (int)chunk;
  /* The teacher's passes, which every worker waits for, run on all cores;
   * each worker then runs its candidates on its share (distill.c). */
  hant_threads_set(hant_cpu_count());
  o.seed = bs.seed;
  o.grid_g_per_kwh = grid;
  o.slots = slot_list;
  char args[512];
  join_args(argc, argv, args, sizeof(args));
  o.args = args;
  if (dry)
    return dry_run(teacher_path, mask, &bs, slot_list, json);

  hant_net *teacher = NULL;
  hant_store *st = NULL;
  hant_dataset tr = {0}, va = {0};
  bool onnx = false;
  int rank = 0, size = 1;
  shard_totals tot = {.failed_rank = -1};
  int rc = shard_init(NULL, NULL, &rank, &size);
  if (rc || (rc = hant_onnx_load_any(teacher_path, &teacher, &onnx))) {
    fprintf(stderr, "hant-distill build: %s\n", hant_errmsg());
    shard_abort(EXIT_FAIL);
  }
  hant_data_spec spec;
  if ((code = cli_data_spec(cmd.name, &da, teacher, NULL, &spec)) >= 0)
    shard_abort(code);
  if ((rc = hant_teacher_prepare(teacher, teacher_path)) ||
      (rc = hant_data_load(&spec, HANT_SPLIT_TRAIN, bs.samples, &tr)) ||
      (rc = hant_data_load(&spec, HANT_SPLIT_VAL, bs.val_samples, &va)))
    goto fail;
  /* The data and normalisation become the library's: calibration,
   * fine-tuning and evaluation repeat them without being told. */
  cli_data_record(&spec, &bs);
  /* The teacher's record names its validation images; Fashion-MNIST's keep their old name. */
  char val_split[64];
  const char *vs = NULL;
  if (strcmp(bs.data, "fmnist")) {
    const char *sp = strchr(bs.data, ' ');
    snprintf(val_split, sizeof(val_split), "%.*s val[0:%d)", sp ? (int)(sp - bs.data) : 8, bs.data, va.n);
    vs = val_split;
  }
  /* Record what was loaded, not what was asked: a data set smaller than
   * the preset's counts trains on what it has. */
  bs.samples = tr.n;
  bs.val_samples = va.n;
  /* Rank 0 creates the library and registers the teacher; the others
   * open it read-only once that is done, and send their results to 0. */
  if (rank == 0 && ((rc = hant_store_open(db, HANT_STORE_CREATE, &st)) || (rc = hant_store_lock_build(st)) ||
                    (rc = hant_distill_register(st, teacher_path, onnx ? "onnx" : "hant", teacher, &va, vs)) ||
                    (rc = record_settings(st, &bs)) || (rc = record_classes(st, &spec))))
    goto fail;
  shard_barrier();
  if (rank != 0 && ((rc = hant_store_open(db, HANT_STORE_READONLY | HANT_STORE_NOCHECK, &st)) ||
                    (rc = hant_distill_register(st, teacher_path, onnx ? "onnx" : "hant", teacher, &va, vs))))
    goto fail;
  o.shard = rank;
  o.shards = size;
  o.record_run = rank == 0;
  hant_teacher_rec t;
  hant_store_teacher_get(st, &t);
  if (!json && rank == 0)
    fprintf(stderr, "build: teacher %s, %d %s, val accuracy %.4f on %d images; %d training images; %ld %s%s\n",
            teacher_path, teacher->n_slots, hant_plural(teacher->n_slots, "slot", "slots"), t.val_accuracy, va.n, tr.n,
            jobs, hant_plural(jobs, "job", "jobs"), size > 1 ? " per rank" : "");
  if (size > 1 && rank == 0 && !json)
    fprintf(stderr, "build: %d MPI ranks; progress below is rank 0's share\n", size);
  struct ui u = {.json = json && rank == 0, .tty = !json && rank == 0 && isatty(2), .t_start = hant_now_s(), .st = st,
                 .shards = size > 1 && rank == 0 ? &tot : NULL};
  o.progress = on_event;
  o.user = &u;
  hant_distill_summary sum;
  if (size == 1)
    rc = hant_distill_build(st, teacher, &tr, &va, &o, hant_distill_store_sink, st, &sum);
  else if (rank == 0)
    rc = hant_distill_build(st, teacher, &tr, &va, &o, rank0_sink, &u, &sum);
  else
    rc = hant_distill_build(st, teacher, &tr, &va, &o, shard_send_result, NULL, &sum);
  if (rank != 0) {
    /* Report to rank 0 either way, so it does not wait for us forever. */
    shard_send_done(rc, rc ? NULL : &sum);
    hant_store_close(st);
    hant_net_destroy(teacher);
    hant_dataset_free(&tr);
    hant_dataset_free(&va);
    shard_finalize();
    return rc ? EXIT_FAIL : EXIT_OK_;
  }
  if (size > 1) {
    int rc2 = shard_collect(st, size, &tot);
    if (!rc)
      rc = rc2;
    sum.trained += tot.trained;
    sum.cpu_s += tot.cpu_s;
    sum.energy_j += tot.energy_j;
    sum.co2_g = hant_co2_grams(sum.energy_j, grid);
    hant_run_rec *runs = NULL;
    int nruns = 0;
    if (!hant_store_runs(st, &runs, &nruns))
      for (int i = 0; i < nruns; i++)
        if (runs[i].id == sum.run_id) {
          runs[i].candidates = sum.trained;
          runs[i].cpu_seconds = sum.cpu_s;
          runs[i].energy_j = sum.energy_j;
          runs[i].co2_g = sum.co2_g;
          hant_store_run_update(st, &runs[i]);
        }
    free(runs);
    if (!rc && tot.failed_rank >= 0)
      rc = hant__error(HANT_EIO, "rank %d failed: %s", tot.failed_rank, tot.failure);
  }
  if (rc)
    goto fail;
  /* Calibration needs every candidate: it runs once the build is complete. */
  if (calibrate && (rc = calibrate_run(st, &da, &ca, json)))
    goto fail;
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "event"), hant_jsonw_str(&w, "summary");
    hant_jsonw_key(&w, "db"), hant_jsonw_str(&w, db);
    hant_jsonw_key(&w, "slots"), hant_jsonw_int(&w, sum.slots);
    hant_jsonw_key(&w, "planned"), hant_jsonw_int(&w, sum.planned);
    hant_jsonw_key(&w, "existing"), hant_jsonw_int(&w, sum.existing);
    hant_jsonw_key(&w, "trained"), hant_jsonw_int(&w, sum.trained);
    hant_jsonw_key(&w, "wall_seconds"), hant_jsonw_num(&w, sum.wall_s);
    hant_jsonw_key(&w, "cpu_seconds"), hant_jsonw_num(&w, sum.cpu_s);
    hant_jsonw_key(&w, "energy_j"), hant_jsonw_num(&w, sum.energy_j);
    hant_jsonw_key(&w, "energy_source"), hant_jsonw_str(&w, sum.energy_source);
    hant_jsonw_key(&w, "co2_g"), hant_jsonw_num(&w, sum.co2_g);
    hant_jsonw_key(&w, "grid_g_per_kwh"), hant_jsonw_num(&w, grid);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("library       %s\n", db);
    printf("slots         %d\n", sum.slots);
    printf("candidates    %d planned, %d already built, %d trained now\n", sum.planned, sum.existing, sum.trained);
    printf("time          %.1f s wall, %.1f s CPU\n", sum.wall_s, sum.cpu_s);
    printf("energy        %.1f J (%s)\n", sum.energy_j, sum.energy_source);
    printf("carbon        %.3f gCO2e at %.0f gCO2/kWh\n", sum.co2_g, grid);
  }
  hant_store_close(st);
  hant_net_destroy(teacher);
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  shard_finalize();
  return EXIT_OK_;
fail:
  fprintf(stderr, "\nhant-distill build%s: %s\n", size > 1 ? " (MPI)" : "",
          hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
  hant_store_close(st);
  hant_net_destroy(teacher);
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  if (size > 1)
    shard_abort(EXIT_FAIL); /* the other ranks would wait for us forever */
  return EXIT_FAIL;
}
