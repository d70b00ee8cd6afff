/* SPDX-License-Identifier: MIT */
/* cmd_export.c: `hant-distill export` writes a network as an ONNX model and checks that it reads back the same. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill export --model FILE --out FILE.onnx [--precision fp32|int8] [--json]\n"
    "\n"
    "Writes a network (hant native or ONNX) as an ONNX model: opset 13, batch\n"
    "norms folded into the convolutions, input \"input\" [N, C, H, W] float32\n"
    "pixels in [0, 1] with a dynamic batch dimension N, output \"logits\".\n"
    "The same network always gives the same bytes. The file is then read back\n"
    "and run on random inputs; the export fails if its outputs differ from the\n"
    "network's by more than 1e-4 of their scale.\n"
    "\n"
    "With --precision int8 the network is quantised first (post-training: batch\n"
    "norms folded, int8 weights per output channel, uint8 activations whose\n"
    "ranges are calibrated on training images, the method chosen by int8\n"
    "accuracy on the validation images) and written as a QDQ model that ONNX\n"
    "Runtime runs in int8. The test split is never read.\n"
    "\n";

/* Max |a - b| over a forward of the same random batch through both nets,
 * and the largest |a| (the output scale). */
static int compare(hant_net *a, hant_net *b, double *diff, double *scale) {
  const hant_node *in = &a->nodes[0];
  const int n = 4;
  size_t per = (size_t)in->c * in->h * in->w;
  float *x = hant_alloc(per * n * sizeof(float));
  if (!x)
    return HANT_ENOMEM;
  hant_rng r;
  hant_rng_seed(&r, 1);
  for (size_t i = 0; i < per * n; i++)
    x[i] = hant_rng_uniform(&r);
  hant_pass pa, pb;
  hant_pass_init(&pa);
  hant_pass_init(&pb);
  int rc = hant_net_forward(a, &pa, x, n, false);
  if (!rc)
    rc = hant_net_forward(b, &pb, x, n, false);
  if (!rc) {
    const hant_node *o = &a->nodes[hant_net_output(a)], *ob = &b->nodes[hant_net_output(b)];
    size_t cnt = (size_t)n * o->c * o->h * o->w;
    if (cnt != (size_t)n * ob->c * ob->h * ob->w) {
      rc = hant__error(HANT_ESHAPE, "the exported model's output has a different shape");
    } else {
      const float *ya = pa.out[hant_net_output(a)], *yb = pb.out[hant_net_output(b)];
      *diff = *scale = 0;
      for (size_t i = 0; i < cnt; i++) {
        *diff = fmax(*diff, fabs((double)ya[i] - yb[i]));
        *scale = fmax(*scale, fabs((double)ya[i]));
      }
    }
  }
  hant_pass_free(&pa);
  hant_pass_free(&pb);
  hant_free(x);
  return rc;
}

/* --precision int8: quantise and write the QDQ model, reporting what was
 * chosen and the accuracy it was chosen by. */
static int export_int8(hant_net *net, const char *model, const char *out, const hant_data_spec *spec, long calib_images,
                       long val_images, const char *calib_s, double percentile, bool json) {
  hant_quant_opts qo = {.calib_images = (int)calib_images, .percentile = percentile};
  if (!strcmp(calib_s, "auto")) {
    qo.choose = true;
  } else if ((qo.calib = hant_qcalib_from_name(calib_s)) == HANT_QCALIB_COUNT) {
    return hant__error(HANT_EINVAL, "--calib expects auto, minmax or percentile, not '%s'", calib_s);
  }
  hant_dataset train = {0}, val = {0};
  hant_qnet *q = NULL;
  double fp32_val = -1, loss = 0;
  hant_threads_set(hant_cpu_count());
  int rc = hant_data_load(spec, HANT_SPLIT_TRAIN, 0, &train);
  if (!rc)
    rc = hant_data_load(spec, HANT_SPLIT_VAL, (int)val_images, &val);
  if (!rc)
    rc = hant_quantise(net, &train, &val, &qo, &q);
  if (!rc && q->val_accuracy < 0)
    rc = hant_qnet_accuracy(q, &val, 128, &q->val_accuracy);
  if (!rc)
    rc = hant_eval_classifier(net, &val, 256, &fp32_val, &loss);
  if (!rc)
    rc = hant_onnx_save_qdq(q, out, NULL);
  if (!rc) {
    struct stat st;
    long bytes = stat(out, &st) ? -1 : (long)st.st_size;
    if (json) {
      hant_jsonw w;
      hant_jsonw_init(&w, stdout);
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "out"), hant_jsonw_str(&w, out);
      hant_jsonw_key(&w, "model"), hant_jsonw_str(&w, model);
      hant_jsonw_key(&w, "bytes"), hant_jsonw_int(&w, bytes);
      hant_jsonw_key(&w, "opset"), hant_jsonw_int(&w, 13);
      hant_jsonw_key(&w, "precision"), hant_jsonw_str(&w, "int8");
      hant_jsonw_key(&w, "calib"), hant_jsonw_str(&w, hant_qcalib_name(q->calib));
      if (q->calib == HANT_QCALIB_PERCENTILE)
        hant_jsonw_key(&w, "percentile"), hant_jsonw_num(&w, q->percentile);
      hant_jsonw_key(&w, "calib_images"), hant_jsonw_int(&w, q->calib_images);
      hant_jsonw_key(&w, "val_images"), hant_jsonw_int(&w, val.n);
      hant_jsonw_key(&w, "val_accuracy_int8"), hant_jsonw_num(&w, q->val_accuracy);
      hant_jsonw_key(&w, "val_accuracy_fp32"), hant_jsonw_num(&w, fp32_val);
      if (qo.choose) { /* what the choice was made between */
        hant_jsonw_key(&w, "val_accuracy_by_calib");
        hant_jsonw_obj_begin(&w);
        for (int c = 0; c < HANT_QCALIB_COUNT; c++)
          hant_jsonw_key(&w, hant_qcalib_name((hant_qcalib)c)), hant_jsonw_num(&w, q->val_accuracy_by[c]);
        hant_jsonw_obj_end(&w);
      }
      hant_jsonw_obj_end(&w);
      hant_jsonw_end(&w);
    } else {
      printf("wrote %s (%ld bytes, ONNX opset 13, int8 QDQ)\n", out, bytes);
      printf("calibration  %s on %d training images%s\n", hant_qcalib_name(q->calib), q->calib_images,
             qo.choose ? " (chosen by validation accuracy)" : "");
      for (int c = 0; qo.choose && c < HANT_QCALIB_COUNT; c++)
        printf("  %-11s int8 validation accuracy %.4f\n", hant_qcalib_name((hant_qcalib)c), q->val_accuracy_by[c]);
      printf("validation   int8 %.4f, fp32 %.4f (%d images)\n", q->val_accuracy, fp32_val, val.n);
    }
  }
  hant_qnet_destroy(q);
  hant_dataset_free(&train);
  hant_dataset_free(&val);
  return rc;
}

int cmd_export(int argc, char **argv) {
  const char *model = NULL, *out = NULL, *precision = "fp32", *calib = "auto";
  data_args da = DATA_ARGS_DEFAULT;
  long calib_images = 1000, val_images = 5000;
  double percentile = 99.99;
  bool json = false;
  const hant_opt opts[] = {
      HANT_OPT_STRING("model", 0, &model, "FILE", "the network to export"),
      HANT_OPT_STRING("out", 0, &out, "FILE", "where to write the ONNX model"),
      HANT_OPT_STRING("precision", 0, &precision, "P", "fp32 (default) or int8 (a QDQ model)"),
      DATA_OPTS(da, "int8: the images to calibrate on and choose by", "fmnist"),
      NORM_OPTS(da),
      HANT_OPT_INT("calib-images", 0, &calib_images, 1, 60000, "N", "int8: training images to calibrate on (1000)"),
      HANT_OPT_INT("val-images", 0, &val_images, 1, 5000, "N", "int8: validation images that choose the method (5000)"),
      HANT_OPT_STRING("calib", 0, &calib, "M", "int8: auto (default: the best on validation), minmax or percentile"),
      HANT_OPT_DOUBLE("percentile", 0, &percentile, 50.0, 100.0, "P", "int8: the percentile method's cut (99.99)"),
      HANT_OPT_FLAG("json", 0, &json, "print {\"out\", \"bytes\", \"opset\", \"max_abs_diff\"} on stdout (int8: see below)"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill export", .usage = usage, .column = 17, .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!model || !out)
    return cli_usage_error(&cmd, "--model FILE and --out FILE.onnx are required");
  bool int8 = !strcmp(precision, "int8");
  if (!int8 && strcmp(precision, "fp32"))
    return cli_usage_error(&cmd, "--precision expects fp32 or int8, not '%s'", precision);
  if (strcmp(calib, "auto") && hant_qcalib_from_name(calib) == HANT_QCALIB_COUNT)
    return cli_usage_error(&cmd, "--calib expects auto, minmax or percentile, not '%s'", calib);
  hant_net *net = NULL, *back = NULL;
  int rc = hant_onnx_load_any(model, &net, NULL);
  if (int8) {
    hant_data_spec spec;
    if (!rc && (code = cli_data_spec(cmd.name, &da, net, NULL, &spec)) >= 0) {
      hant_net_destroy(net);
      return code;
    }
    if (!rc)
      rc = export_int8(net, model, out, &spec, calib_images, val_images, calib, percentile, json);
    if (rc)
      fprintf(stderr, "hant-distill export: %s\n", hant_errmsg());
    hant_net_destroy(net);
    return rc ? EXIT_FAIL : EXIT_OK_;
  }
  if (!rc)
    rc = hant_onnx_save(net, out, NULL);
  if (!rc)
    rc = hant_onnx_load(out, &back, NULL);
  double diff = 0, scale = 0;
  if (!rc)
    rc = compare(net, back, &diff, &scale);
  if (!rc && !(diff <= 1e-4 * fmax(scale, 1e-6)))
    rc = hant__error(HANT_EFORMAT, "%s: the exported model's outputs differ by %g (scale %g)", out, diff, scale);
  if (rc) {
    fprintf(stderr, "hant-distill export: %s\n", hant_errmsg());
  } else {
    FILE *f = fopen(out, "rb");
    long bytes = -1;
    if (f && !fseek(f, 0, SEEK_END))
      bytes = ftell(f);
    if (f)
      fclose(f);
    if (json) {
      hant_jsonw w;
      hant_jsonw_init(&w, stdout);
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "out"), hant_jsonw_str(&w, out);
      hant_jsonw_key(&w, "bytes"), hant_jsonw_int(&w, bytes);
      hant_jsonw_key(&w, "opset"), hant_jsonw_int(&w, 13);
      hant_jsonw_key(&w, "max_abs_diff"), hant_jsonw_num(&w, diff);
      hant_jsonw_obj_end(&w);
      hant_jsonw_end(&w);
    } else {
      printf("wrote %s (%ld bytes, ONNX opset 13); read back: max |diff| %.3g\n", out, bytes, diff);
    }
  }
  hant_net_destroy(net);
  hant_net_destroy(back);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
