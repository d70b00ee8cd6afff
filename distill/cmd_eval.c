/* SPDX-License-Identifier: MIT */
/* cmd_eval.c: `hant-distill eval` reports a model's accuracy and loss on a split. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gemm.h"
#include "hant.h"
#include "jsonw.h"
#include "netfile.h"
#include "train.h"

static void usage(FILE *f) {
  fprintf(f, "usage: hant-distill eval --model FILE [--data fmnist|DIR] [--split test|val|train] [--samples N] [--json]\n"
             "\n"
             "Prints the model's accuracy (a fraction, 0-1) and mean cross-entropy loss.\n"
             "Models take NCHW float32 pixels in [0, 1].\n"
             "\n"
             "  --model FILE    a hant native network file\n"
             "  --data          fmnist (default) or a directory of IDX files\n"
             "  --split         test (default), val or train\n"
             "  --samples N     evaluate only the first N images of the split\n"
             "  --json          print {\"accuracy\", \"loss\", \"n\", ...} on stdout\n");
}

int cmd_eval(int argc, char **argv) {
  const char *model = NULL, *data = "fmnist", *v;
  hant_split split = HANT_SPLIT_TEST;
  long samples = 0;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return EXIT_OK_;
    } else if (!strcmp(argv[i], "--json")) {
      json = true;
    } else if (cli_opt(argc, argv, &i, "--model", &v)) {
      if (!(model = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--data", &v)) {
      if (!(data = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--samples", &v)) {
      if (!cli_int("eval", "--samples", v, 1, 1 << 30, &samples))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--split", &v)) {
      if (!v || (split = hant_split_from_name(v)) == HANT_SPLIT_COUNT) {
        fprintf(stderr, "hant-distill eval: --split expects test, val or train\n");
        return EXIT_USAGE;
      }
    } else {
      fprintf(stderr, "hant-distill eval: unknown option '%s'; see --help\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (!model) {
    fprintf(stderr, "hant-distill eval: --model FILE is required\n");
    return EXIT_USAGE;
  }
  hant_net *net = NULL;
  int rc = hant_netfile_load(model, &net, NULL);
  if (rc) {
    fprintf(stderr, "hant-distill eval: %s\n", hant_errmsg());
    return EXIT_FAIL;
  }
  hant_gemm_set_threads(hant_cpu_count());
  hant_dataset ds;
  if ((rc = hant_fmnist_load(cli_data_dir(data), split, (int)samples, &ds))) {
    fprintf(stderr, "hant-distill eval: %s\n", hant_errmsg());
    hant_net_destroy(net);
    return EXIT_FAIL;
  }
  double acc = 0, loss = 0;
  rc = hant_eval_classifier(net, &ds, 256, &acc, &loss);
  if (rc) {
    fprintf(stderr, "hant-distill eval: %s\n", hant_errmsg());
  } else if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "accuracy"), hant_jsonw_num(&w, acc);
    hant_jsonw_key(&w, "loss"), hant_jsonw_num(&w, loss);
    hant_jsonw_key(&w, "n"), hant_jsonw_int(&w, ds.n);
    hant_jsonw_key(&w, "split"), hant_jsonw_str(&w, hant_split_name(split));
    hant_jsonw_key(&w, "model"), hant_jsonw_str(&w, model);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("model     %s\nsplit     %s (%d images)\naccuracy  %.4f\nloss      %.4f\n", model, hant_split_name(split),
           ds.n, acc, loss);
  }
  hant_dataset_free(&ds);
  hant_net_destroy(net);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
