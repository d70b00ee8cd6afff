/* SPDX-License-Identifier: MIT */
/* cmd_export.c: `hant-distill export` writes a network as an ONNX model and checks that it reads back the same. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill export --model FILE --out FILE.onnx [--json]\n"
    "\n"
    "Writes a network (hant native or ONNX) as an ONNX model: opset 13, batch\n"
    "norms folded into the convolutions, input \"input\" [N, C, H, W] float32\n"
    "pixels in [0, 1] with a dynamic batch dimension N, output \"logits\".\n"
    "The same network always gives the same bytes. The file is then read back\n"
    "and run on random inputs; the export fails if its outputs differ from the\n"
    "network's by more than 1e-4 of their scale.\n"
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

int cmd_export(int argc, char **argv) {
  const char *model = NULL, *out = NULL;
  bool json = false;
  const hant_opt opts[] = {
      HANT_OPT_STRING("model", 0, &model, "FILE", "the network to export"),
      HANT_OPT_STRING("out", 0, &out, "FILE", "where to write the ONNX model"),
      HANT_OPT_FLAG("json", 0, &json, "print {\"out\", \"bytes\", \"opset\", \"max_abs_diff\"} on stdout"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill export", .usage = usage, .column = 17, .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!model || !out)
    return cli_usage_error(&cmd, "--model FILE and --out FILE.onnx are required");
  hant_net *net = NULL, *back = NULL;
  int rc = hant_onnx_load_any(model, &net, NULL);
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
