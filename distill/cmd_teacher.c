/* SPDX-License-Identifier: MIT */
/* cmd_teacher.c: `hant-distill teacher` trains a teacher and reports validation and test accuracy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hant.h"
#include "cli.h"

static const char usage[] =
    "usage: hant-distill teacher --data fmnist|DIR --arch NAME|DESC --epochs N --out FILE [options]\n"
    "\n"
    "Trains a classifier on the training split (Fashion-MNIST: images 0-54999),\n"
    "reports its accuracy on the validation split (55000-59999) after every epoch\n"
    "and on the test split once at the end, and saves it in hant's native format.\n"
    "A preset --arch takes its input shape and classes from the data; with\n"
    "--mean/--std the teacher learns normalised input, and `build` must be given\n"
    "the same values.\n"
    "\n";

struct ctx {
  hant_progress bar;
  bool json;
};

static void on_progress(void *user, const hant_train_progress *p) {
  struct ctx *c = user;
  char note[128];
  if (p->epoch_done) {
    hant_progress_end(&c->bar);
    if (c->json) {
      hant_jsonw w;
      hant_jsonw_init(&w, stderr);
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "event"), hant_jsonw_str(&w, "epoch");
      hant_jsonw_key(&w, "epoch"), hant_jsonw_int(&w, p->epoch);
      hant_jsonw_key(&w, "epochs"), hant_jsonw_int(&w, p->epochs);
      hant_jsonw_key(&w, "train_loss"), hant_jsonw_numf(&w, "%.5f", (double)p->loss);
      hant_jsonw_key(&w, "val_accuracy"), hant_jsonw_numf(&w, "%.5f", p->val_accuracy);
      hant_jsonw_key(&w, "val_loss"), hant_jsonw_numf(&w, "%.5f", p->val_loss);
      hant_jsonw_key(&w, "samples_per_s"), hant_jsonw_numf(&w, "%.1f", p->samples_per_s);
      hant_jsonw_key(&w, "seconds"), hant_jsonw_numf(&w, "%.1f", p->epoch_s);
      hant_jsonw_obj_end(&w);
      hant_jsonw_end(&w);
    } else {
      fprintf(stderr, "epoch %2d/%d  train loss %.4f  val acc %.4f  val loss %.4f  %.0f samples/s  %.1fs\n",
              p->epoch, p->epochs, (double)p->loss, p->val_accuracy, p->val_loss, p->samples_per_s, p->epoch_s);
    }
    return;
  }
  snprintf(note, sizeof(note), "epoch %d/%d loss %.4f lr %.4f %.0f/s", p->epoch, p->epochs, (double)p->loss,
           (double)p->lr, p->samples_per_s);
  hant_progress_update(&c->bar, (double)p->step, (double)p->steps, note);
}

int cmd_teacher(int argc, char **argv) {
  data_args da = DATA_ARGS_DEFAULT;
  const char *arch = "resnet8", *out = NULL, *sched_s = NULL, *optim_s = NULL;
  long epochs = 10, batch = 128, samples = 0, val_samples = 0, seed = 1, threads = 0, max_steps = 0;
  double lr = 0.1, wd = 5e-4, ls = 0.0;
  bool json = false, no_augment = false;
  const hant_opt opts[] = {
      DATA_OPTS(da, "training images", "fmnist"),
      NORM_OPTS(da),
      HANT_OPT_STRING("arch", 0, &arch, "NAME|DESC",
                      "a preset (tiny, resnet8, resnet8w, resnet10, resnet14, mbv2) or an\n"
                      "architecture description (default resnet8)"),
      HANT_OPT_INT("epochs", 0, &epochs, 1, 10000, "N", "passes over the training split (default 10)"),
      HANT_OPT_INT("batch", 0, &batch, 1, 65536, "N", "mini-batch size (default 128)"),
      HANT_OPT_DOUBLE("lr", 0, &lr, 1e-7, 10, "X", "peak learning rate (default 0.1)"),
      HANT_OPT_DOUBLE("wd", 0, &wd, 0, 1, "X", "weight decay (default 5e-4)"),
      HANT_OPT_STRING("sched", 0, &sched_s, "NAME", "cosine or onecycle or constant (default cosine)"),
      HANT_OPT_STRING("optim", 0, &optim_s, "NAME", "sgd, adam or adamw (default sgd, Nesterov 0.9)"),
      HANT_OPT_DOUBLE("label-smoothing", 0, &ls, 0, 0.99, "X", "(default 0)"),
      HANT_OPT_FLAG("no-augment", 0, &no_augment, "disable random crop (pad 2) and horizontal flip"),
      HANT_OPT_INT("samples", 0, &samples, 1, 1 << 30, "N", "use only the first N training images"),
      HANT_OPT_INT("val-samples", 0, &val_samples, 1, 1 << 30, "N", "use only the first N validation images"),
      HANT_OPT_INT("max-steps", 0, &max_steps, 1, 1L << 40, "N", "stop after N steps (for smoke tests)"),
      HANT_OPT_INT("seed", 0, &seed, 0, 1L << 40, "N", "(default 1)"),
      HANT_OPT_INT("threads", 0, &threads, 1, 1024, "N", "kernel threads (default: all cores)"),
      HANT_OPT_STRING("out", 0, &out, "FILE",
                      "where to write the trained network (required): ONNX when FILE ends in .onnx, else hant's "
                      "native format"),
      HANT_OPT_FLAG("json", 0, &json, "print the result as JSON on stdout"),
      HANT_OPT_HELP("show this help"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill teacher", .usage = usage, .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  hant_sched sched = HANT_SCHED_COSINE;
  hant_optim_kind optim = HANT_OPTIM_SGD;
  if (sched_s && (sched = hant_sched_from_name(sched_s)) == HANT_SCHED_COUNT)
    return cli_usage_error(&cmd, "--sched expects cosine, onecycle or constant");
  if (!optim_s || !strcmp(optim_s, "sgd"))
    optim = HANT_OPTIM_SGD;
  else if (!strcmp(optim_s, "adam"))
    optim = HANT_OPTIM_ADAM;
  else if (!strcmp(optim_s, "adamw"))
    optim = HANT_OPTIM_ADAMW;
  else
    return cli_usage_error(&cmd, "--optim expects sgd, adam or adamw");
  if (!out)
    return cli_usage_error(&cmd, "--out FILE is required");
  hant_threads_set(threads ? (int)threads : hant_cpu_count());
  hant_dataset tr = {0}, va = {0}, te = {0};
  hant_data_spec spec;
  hant_net *net = NULL;
  int rc = 0;
  const char *desc = hant_arch_preset(arch);
  char adapted[1024];
  if (desc) {
    /* A preset takes the data's shape and classes: its first clause is
     * the input and its last "linear 10", which Fashion-MNIST keeps as they are. */
    if ((code = cli_data_spec(cmd.name, &da, NULL, NULL, &spec)) >= 0)
      return code;
    if ((rc = cli_data_load(cmd.name, &spec, HANT_SPLIT_TRAIN, (int)samples, &tr)))
      return EXIT_FAIL;
    const char *body = strchr(desc, ';'), *last = strrchr(desc, ';');
    snprintf(adapted, sizeof(adapted), "input %dx%dx%d%.*s; linear %d", tr.c, tr.h, tr.w, (int)(last - body), body,
             tr.classes);
    desc = adapted;
  } else {
    desc = arch;
  }
  net = hant_arch_build(desc, "--arch");
  if (!net) {
    fprintf(stderr, "hant-distill teacher: %s\n", hant_errmsg());
    hant_dataset_free(&tr);
    return EXIT_USAGE;
  }
  if ((code = cli_data_spec(cmd.name, &da, net, NULL, &spec)) >= 0) {
    hant_dataset_free(&tr);
    hant_net_destroy(net);
    return code;
  }
  if (!tr.images)
    rc = cli_data_load(cmd.name, &spec, HANT_SPLIT_TRAIN, (int)samples, &tr);
  if (!rc)
    rc = cli_data_load(cmd.name, &spec, HANT_SPLIT_VAL, (int)val_samples, &va);
  if (!rc)
    rc = cli_data_load(cmd.name, &spec, HANT_SPLIT_TEST, 0, &te);
  if (rc) {
    hant_dataset_free(&tr);
    hant_dataset_free(&va);
    hant_net_destroy(net);
    return EXIT_FAIL;
  }
  hant_rng rng;
  hant_rng_seed(&rng, (uint64_t)seed * 7919u + 17u);
  hant_net_init_params(net, &rng);
  fprintf(stderr, "teacher: %s: %d slots, %zu parameters, %.2f MMAC/sample; %d train, %d val images, %d kernel threads\n",
          arch, net->n_slots, hant_net_param_count(net), hant_net_macs(net) / 1e6, tr.n, va.n, hant_threads_get());

  hant_train_opts o;
  hant_train_opts_default(&o);
  o.epochs = (int)epochs;
  o.batch = (int)batch;
  o.lr = (float)lr;
  o.weight_decay = (float)wd;
  o.sched = sched;
  o.optim = optim;
  o.label_smoothing = (float)ls;
  o.augment = !no_augment;
  o.seed = (uint64_t)seed;
  o.max_steps = max_steps;
  struct ctx c = {.json = json};
  hant_progress_start(&c.bar, "train");
  o.progress = on_progress;
  o.user = &c;
  hant_train_result res;
  double cpu0 = hant_cpu_s();
  rc = hant_train_classifier(net, &tr, &va, &o, &res);
  hant_progress_end(&c.bar);
  double test_acc = 0, test_loss = 0;
  if (!rc)
    rc = hant_eval_classifier(net, &te, 256, &test_acc, &test_loss);
  if (rc) {
    fprintf(stderr, "hant-distill teacher: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
    goto done;
  }
  double cpu_s = hant_cpu_s() - cpu0;
  /* The file's own record of how it was trained. */
  hant_jsonw m;
  hant_jsonw_init_mem(&m);
  hant_jsonw_obj_begin(&m);
  hant_jsonw_key(&m, "kind"), hant_jsonw_str(&m, "teacher");
  hant_jsonw_key(&m, "arch"), hant_jsonw_str(&m, desc);
  hant_jsonw_key(&m, "epochs"), hant_jsonw_int(&m, epochs);
  hant_jsonw_key(&m, "batch"), hant_jsonw_int(&m, batch);
  hant_jsonw_key(&m, "lr"), hant_jsonw_numf(&m, "%g", lr);
  hant_jsonw_key(&m, "wd"), hant_jsonw_numf(&m, "%g", wd);
  hant_jsonw_key(&m, "sched"), hant_jsonw_str(&m, hant_sched_name(sched));
  hant_jsonw_key(&m, "seed"), hant_jsonw_int(&m, seed);
  hant_jsonw_key(&m, "train_images"), hant_jsonw_int(&m, tr.n);
  hant_jsonw_key(&m, "val_images"), hant_jsonw_int(&m, va.n);
  hant_jsonw_key(&m, "val_accuracy"), hant_jsonw_numf(&m, "%.6f", res.val_accuracy);
  hant_jsonw_key(&m, "test_accuracy"), hant_jsonw_numf(&m, "%.6f", test_acc);
  hant_jsonw_key(&m, "train_seconds"), hant_jsonw_numf(&m, "%.1f", res.seconds);
  hant_jsonw_key(&m, "cpu_seconds"), hant_jsonw_numf(&m, "%.1f", cpu_s);
  hant_jsonw_key(&m, "hant_version"), hant_jsonw_str(&m, hant_version());
  hant_jsonw_obj_end(&m);
  char *meta = hant_jsonw_take(&m);
  if (!meta) {
    rc = HANT_ENOMEM;
    fprintf(stderr, "hant-distill teacher: %s\n", hant_strerror(rc));
    goto done;
  }
  /* The name says the format: a file called .onnx that held the native
   * format would be refused by every ONNX tool it is handed to. */
  size_t ol = strlen(out);
  if (ol >= 5 && !strcasecmp(out + ol - 5, ".onnx")) {
    hant_onnx_save_opts so = {.doc = meta};
    rc = hant_onnx_save(net, out, &so);
  } else {
    rc = hant_netfile_save(net, meta, out);
  }
  free(meta);
  if (rc) {
    fprintf(stderr, "hant-distill teacher: %s\n", hant_errmsg());
    goto done;
  }
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "out"), hant_jsonw_str(&w, out);
    hant_jsonw_key(&w, "arch"), hant_jsonw_str(&w, desc);
    hant_jsonw_key(&w, "epochs"), hant_jsonw_int(&w, res.steps ? epochs : 0);
    hant_jsonw_key(&w, "steps"), hant_jsonw_int(&w, res.steps);
    hant_jsonw_key(&w, "val_accuracy"), hant_jsonw_num(&w, res.val_accuracy);
    hant_jsonw_key(&w, "val_loss"), hant_jsonw_num(&w, res.val_loss);
    hant_jsonw_key(&w, "test_accuracy"), hant_jsonw_num(&w, test_acc);
    hant_jsonw_key(&w, "test_loss"), hant_jsonw_num(&w, test_loss);
    hant_jsonw_key(&w, "train_loss"), hant_jsonw_num(&w, res.train_loss);
    hant_jsonw_key(&w, "seconds"), hant_jsonw_num(&w, res.seconds);
    hant_jsonw_key(&w, "samples_per_s"), hant_jsonw_num(&w, res.samples_per_s);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("model          %s\n", out);
    printf("architecture   %s\n", desc);
    printf("parameters     %zu\n", hant_net_param_count(net));
    printf("MMAC/sample    %.2f\n", hant_net_macs(net) / 1e6);
    printf("steps          %ld\n", res.steps);
    printf("train loss     %.4f\n", res.train_loss);
    if (!da.data || !strcmp(da.data, "fmnist"))
      printf("val accuracy   %.4f  (images 55000-59999, %d used)\n", res.val_accuracy, va.n);
    else
      printf("val accuracy   %.4f  (%d validation images)\n", res.val_accuracy, va.n);
    printf("test accuracy  %.4f  (%d test images)\n", test_acc, te.n);
    printf("time           %.1f s, %.0f samples/s\n", res.seconds, res.samples_per_s);
  }
done:
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  hant_dataset_free(&te);
  hant_net_destroy(net);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
