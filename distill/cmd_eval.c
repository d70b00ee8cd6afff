/* SPDX-License-Identifier: MIT */
/* cmd_eval.c: `hant-distill eval` reports a model's accuracy and loss on a split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill eval --model FILE [--data fmnist|DIR] [--data-format FORMAT] [--gray]\n"
    "                         [--split test|val|train] [--samples N] [--mean M[,M...]] [--std S[,S...]] [--json]\n"
    "\n"
    "Prints the model's accuracy (a fraction, 0-1) and mean cross-entropy loss.\n"
    "Models take NCHW float32 pixels in [0, 1]: hant's own networks and PyTorch\n"
    "models exported the usual way need no options. --mean/--std serve models that\n"
    "expect normalised input: they feed (pixel - mean) / std, one value for all\n"
    "channels or one per channel.\n"
    "\n";

int cmd_eval(int argc, char **argv) {
  const char *model = NULL, *split_s = NULL;
  data_args da = DATA_ARGS_DEFAULT;
  long samples = 0;
  bool json = false;
  const hant_opt opts[] = {
      HANT_OPT_STRING("model", 0, &model, "FILE", "a hant native network file or an ONNX model"),
      DATA_OPTS(da, "images", "fmnist"),
      HANT_OPT_STRING("split", 0, &split_s, NULL, "test (default), val or train"),
      HANT_OPT_INT("samples", 0, &samples, 1, 1 << 30, "N", "evaluate only the first N images of the split"),
      NORM_OPTS(da),
      HANT_OPT_FLAG("json", 0, &json, "print {\"accuracy\", \"loss\", \"n\", ...} on stdout"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill eval", .usage = usage, .column = 18, .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  hant_split split = HANT_SPLIT_TEST;
  if (split_s && (split = hant_split_from_name(split_s)) == HANT_SPLIT_COUNT)
    return cli_usage_error(&cmd, "--split expects test, val or train");
  if (!model)
    return cli_usage_error(&cmd, "--model FILE is required");
  hant_net *net = NULL;
  int rc = hant_onnx_load_any(model, &net, NULL);
  if (rc) {
    fprintf(stderr, "hant-distill eval: %s\n", hant_errmsg());
    return EXIT_FAIL;
  }
  hant_data_spec spec;
  if ((code = cli_data_spec(cmd.name, &da, net, NULL, &spec)) >= 0) {
    hant_net_destroy(net);
    return code;
  }
  hant_threads_set(hant_cpu_count());
  hant_dataset ds;
  if ((rc = cli_data_load(cmd.name, &spec, split, (int)samples, &ds))) {
    hant_net_destroy(net);
    return EXIT_FAIL;
  }
  double acc = 0, loss = 0;
  /* The normalisation travels with the data set (hant_dataset_batch). */
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
