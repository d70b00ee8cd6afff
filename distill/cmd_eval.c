/* SPDX-License-Identifier: MIT */
/* cmd_eval.c: `hant-distill eval` reports a model's accuracy and loss on a split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill eval --model FILE [--data fmnist|DIR] [--split test|val|train] [--samples N]\n"
    "                         [--mean M[,M...]] [--std S[,S...]] [--json]\n"
    "\n"
    "Prints the model's accuracy (a fraction, 0-1) and mean cross-entropy loss.\n"
    "Models take NCHW float32 pixels in [0, 1]: hant's own networks and PyTorch\n"
    "models exported the usual way need no options. --mean/--std serve models that\n"
    "expect normalised input: they feed (pixel - mean) / std, one value for all\n"
    "channels or one per channel.\n"
    "\n";

/* Reads "v" or "v1,v2,..." (one per channel) into out[c]. */
static bool parse_channels(const char *opt, const char *s, int c, float *out, bool positive) {
  int k = 0;
  const char *p = s;
  while (*p) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || (*end && *end != ',') || k == c || !(v > -1e6 && v < 1e6) || (positive && !(v > 0))) {
      if (c == 1)
        fprintf(stderr, "hant-distill eval: %s expects a %snumber, got '%s'\n", opt, positive ? "positive " : "", s);
      else
        fprintf(stderr, "hant-distill eval: %s expects 1 or %d %snumbers separated by commas, got '%s'\n", opt, c,
                positive ? "positive " : "", s);
      return false;
    }
    out[k++] = (float)v;
    p = *end ? end + 1 : end;
  }
  if (k != 1 && k != c) {
    fprintf(stderr, "hant-distill eval: %s has %d values; the model's input has %d channels\n", opt, k, c);
    return false;
  }
  for (int j = k; j < c; j++)
    out[j] = out[0];
  return true;
}

int cmd_eval(int argc, char **argv) {
  const char *model = NULL, *data = "fmnist", *split_s = NULL, *mean_s = NULL, *std_s = NULL;
  long samples = 0;
  bool json = false;
  const hant_opt opts[] = {
      HANT_OPT_STRING("model", 0, &model, "FILE", "a hant native network file or an ONNX model"),
      HANT_OPT_STRING("data", 0, &data, NULL, "fmnist (default) or a directory of IDX files"),
      HANT_OPT_STRING("split", 0, &split_s, NULL, "test (default), val or train"),
      HANT_OPT_INT("samples", 0, &samples, 1, 1 << 30, "N", "evaluate only the first N images of the split"),
      HANT_OPT_STRING("mean", 0, &mean_s, "M,...", "subtract from the input pixels (default 0)"),
      HANT_OPT_STRING("std", 0, &std_s, "S,...", "then divide by (default 1)"),
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
  int ch = net->nodes[0].c;
  float *mean = calloc((size_t)ch, sizeof(float)), *stdv = malloc((size_t)ch * sizeof(float));
  if (!mean || !stdv || (mean_s && !parse_channels("--mean", mean_s, ch, mean, false)) ||
      (std_s && !parse_channels("--std", std_s, ch, stdv, true))) {
    free(mean);
    free(stdv);
    hant_net_destroy(net);
    return mean && stdv ? EXIT_USAGE : EXIT_FAIL;
  }
  if (!std_s)
    for (int j = 0; j < ch; j++)
      stdv[j] = 1.0f;
  hant_threads_set(hant_cpu_count());
  hant_dataset ds;
  if ((rc = hant_fmnist_load(cli_data_dir(data), split, (int)samples, &ds))) {
    fprintf(stderr, "hant-distill eval: %s\n", hant_errmsg());
    hant_net_destroy(net);
    free(mean);
    free(stdv);
    return EXIT_FAIL;
  }
  double acc = 0, loss = 0;
  rc = hant_eval_classifier_norm(net, &ds, 256, mean_s ? mean : NULL, std_s ? stdv : NULL, &acc, &loss);
  free(mean);
  free(stdv);
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
