/* SPDX-License-Identifier: MIT */
/* cmd_teacher.c: `hant-distill teacher` trains a teacher and reports validation and test accuracy. */
#include <stdio.h>
#include <string.h>

#include "hant.h"
#include "cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hant-distill teacher --data fmnist --arch NAME|DESC --epochs N --out FILE [options]\n"
          "\n"
          "Trains a classifier on the training split (images 0-54999), reports its\n"
          "accuracy on the validation split (55000-59999) after every epoch and on\n"
          "the test split once at the end, and saves it in hant's native format.\n"
          "\n"
          "  --data fmnist|DIR     Fashion-MNIST from Debian's dataset-fashion-mnist, or a\n"
          "                        directory of IDX files (default fmnist)\n"
          "  --arch NAME|DESC      a preset (tiny, resnet8, resnet8w, resnet10, resnet14, mbv2) or an\n"
          "                        architecture description (default resnet8)\n"
          "  --epochs N            passes over the training split (default 10)\n"
          "  --batch N             mini-batch size (default 128)\n"
          "  --lr X                peak learning rate (default 0.1)\n"
          "  --wd X                weight decay (default 5e-4)\n"
          "  --sched NAME          cosine or onecycle or constant (default cosine)\n"
          "  --optim NAME          sgd, adam or adamw (default sgd, Nesterov 0.9)\n"
          "  --label-smoothing X   (default 0)\n"
          "  --no-augment          disable random crop (pad 2) and horizontal flip\n"
          "  --samples N           use only the first N training images\n"
          "  --val-samples N       use only the first N validation images\n"
          "  --max-steps N         stop after N steps (for smoke tests)\n"
          "  --seed N              (default 1)\n"
          "  --threads N           BLAS threads (default: all cores)\n"
          "  --out FILE            where to write the trained network (required)\n"
          "  --json                print the result as JSON on stdout\n"
          "  --help                show this help\n");
}

struct ctx {
  hant_progress bar;
  bool json;
};

static void on_progress(void *user, const hant_train_progress *p) {
  struct ctx *c = user;
  char note[128];
  if (p->epoch_done) {
    hant_progress_end(&c->bar);
    if (c->json)
      fprintf(stderr, "{\"event\":\"epoch\",\"epoch\":%d,\"epochs\":%d,\"train_loss\":%.5f,\"val_accuracy\":%.5f,\"val_loss\":%.5f,\"samples_per_s\":%.1f,\"seconds\":%.1f}\n",
              p->epoch, p->epochs, (double)p->loss, p->val_accuracy, p->val_loss, p->samples_per_s, p->epoch_s);
    else
      fprintf(stderr, "epoch %2d/%d  train loss %.4f  val acc %.4f  val loss %.4f  %.0f samples/s  %.1fs\n",
              p->epoch, p->epochs, (double)p->loss, p->val_accuracy, p->val_loss, p->samples_per_s, p->epoch_s);
    return;
  }
  snprintf(note, sizeof(note), "epoch %d/%d loss %.4f lr %.4f %.0f/s", p->epoch, p->epochs, (double)p->loss,
           (double)p->lr, p->samples_per_s);
  hant_progress_update(&c->bar, (double)p->step, (double)p->steps, note);
}

int cmd_teacher(int argc, char **argv) {
  const char *data = "fmnist", *arch = "resnet8", *out = NULL, *v;
  long epochs = 10, batch = 128, samples = 0, val_samples = 0, seed = 1, threads = 0, max_steps = 0;
  double lr = 0.1, wd = 5e-4, ls = 0.0;
  bool json = false, augment = true;
  hant_sched sched = HANT_SCHED_COSINE;
  hant_optim_kind optim = HANT_OPTIM_SGD;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return EXIT_OK_;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--no-augment")) {
      augment = false;
    } else if (cli_opt(argc, argv, &i, "--data", &v)) {
      if (!(data = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--arch", &v)) {
      if (!(arch = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--out", &v)) {
      if (!(out = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--epochs", &v)) {
      if (!cli_int("teacher", "--epochs", v, 1, 10000, &epochs))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--batch", &v)) {
      if (!cli_int("teacher", "--batch", v, 1, 65536, &batch))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--samples", &v)) {
      if (!cli_int("teacher", "--samples", v, 1, 1 << 30, &samples))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--val-samples", &v)) {
      if (!cli_int("teacher", "--val-samples", v, 1, 1 << 30, &val_samples))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--max-steps", &v)) {
      if (!cli_int("teacher", "--max-steps", v, 1, 1L << 40, &max_steps))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--seed", &v)) {
      if (!cli_int("teacher", "--seed", v, 0, 1L << 40, &seed))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--threads", &v)) {
      if (!cli_int("teacher", "--threads", v, 1, 1024, &threads))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--lr", &v)) {
      if (!cli_float("teacher", "--lr", v, 1e-7, 10, &lr))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--wd", &v)) {
      if (!cli_float("teacher", "--wd", v, 0, 1, &wd))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--label-smoothing", &v)) {
      if (!cli_float("teacher", "--label-smoothing", v, 0, 0.99, &ls))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--sched", &v)) {
      if (!v || (sched = hant_sched_from_name(v)) == HANT_SCHED_COUNT) {
        fprintf(stderr, "hant-distill teacher: --sched expects cosine, onecycle or constant\n");
        return EXIT_USAGE;
      }
    } else if (cli_opt(argc, argv, &i, "--optim", &v)) {
      if (!v)
        return EXIT_USAGE;
      if (!strcmp(v, "sgd"))
        optim = HANT_OPTIM_SGD;
      else if (!strcmp(v, "adam"))
        optim = HANT_OPTIM_ADAM;
      else if (!strcmp(v, "adamw"))
        optim = HANT_OPTIM_ADAMW;
      else {
        fprintf(stderr, "hant-distill teacher: --optim expects sgd, adam or adamw\n");
        return EXIT_USAGE;
      }
    } else {
      fprintf(stderr, "hant-distill teacher: unknown option '%s'; see --help\n", a);
      return EXIT_USAGE;
    }
  }
  if (!out) {
    fprintf(stderr, "hant-distill teacher: --out FILE is required\n");
    return EXIT_USAGE;
  }
  const char *desc = hant_arch_preset(arch);
  if (!desc)
    desc = arch;
  hant_net *net = hant_arch_build(desc, "--arch");
  if (!net) {
    fprintf(stderr, "hant-distill teacher: %s\n", hant_errmsg());
    return EXIT_USAGE;
  }
  hant_threads_set(threads ? (int)threads : hant_cpu_count());
  hant_dataset tr = {0}, va = {0}, te = {0};
  const char *dir = cli_data_dir(data);
  int rc = hant_fmnist_load(dir, HANT_SPLIT_TRAIN, (int)samples, &tr);
  if (!rc)
    rc = hant_fmnist_load(dir, HANT_SPLIT_VAL, (int)val_samples, &va);
  if (!rc)
    rc = hant_fmnist_load(dir, HANT_SPLIT_TEST, 0, &te);
  if (rc) {
    fprintf(stderr, "hant-distill teacher: %s\n", hant_errmsg());
    hant_net_destroy(net);
    return EXIT_FAIL;
  }
  hant_rng rng;
  hant_rng_seed(&rng, (uint64_t)seed * 7919u + 17u);
  hant_net_init_params(net, &rng);
  fprintf(stderr, "teacher: %s: %d slots, %zu parameters, %.2f MMAC/sample; %d train, %d val images, %d BLAS threads\n",
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
  o.augment = augment;
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
  char meta[2048], archq[1024];
  hant_json_escape(archq, sizeof(archq), desc);
  snprintf(meta, sizeof(meta),
           "{\"kind\":\"teacher\",\"arch\":%s,\"epochs\":%ld,\"batch\":%ld,\"lr\":%g,\"wd\":%g,\"sched\":\"%s\","
           "\"seed\":%ld,\"train_images\":%d,\"val_images\":%d,\"val_accuracy\":%.6f,\"test_accuracy\":%.6f,"
           "\"train_seconds\":%.1f,\"cpu_seconds\":%.1f,\"hant_version\":\"%s\"}",
           archq, epochs, batch, lr, wd, hant_sched_name(sched), seed, tr.n, va.n, res.val_accuracy, test_acc,
           res.seconds, cpu_s, hant_version());
  if ((rc = hant_netfile_save(net, meta, out))) {
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
    printf("val accuracy   %.4f  (images 55000-59999, %d used)\n", res.val_accuracy, va.n);
    printf("test accuracy  %.4f  (10000 test images)\n", test_acc);
    printf("time           %.1f s, %.0f samples/s\n", res.seconds, res.samples_per_s);
  }
done:
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  hant_dataset_free(&te);
  hant_net_destroy(net);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
