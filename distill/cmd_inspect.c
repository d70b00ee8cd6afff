/* SPDX-License-Identifier: MIT */
/* cmd_inspect.c: `hant-distill inspect` lists a model's replaceable slots with their shapes, MACs and parameters. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill inspect MODEL [--json]\n"
    "\n"
    "Reads a model (ONNX, or hant's native format) and lists its slots: the\n"
    "replaceable blocks (conv-bn-act chains, residual, bottleneck and inverted-\n"
    "residual blocks, depthwise-separable pairs, linear layers), each with its\n"
    "input and output shapes (CxHxW of one sample), multiply-accumulates and\n"
    "trainable parameters, and the architecture line that describes it.\n"
    "Slots of ONNX models are found from the graph; native files declare them.\n"
    "\n";

static void shape(char *buf, size_t n, int c, int h, int w) { snprintf(buf, n, "%dx%dx%d", c, h, w); }

static void json_shape(hant_jsonw *w, const char *key, int c, int h, int wd) {
  hant_jsonw_key(w, key);
  hant_jsonw_arr_begin(w);
  hant_jsonw_int(w, c), hant_jsonw_int(w, h), hant_jsonw_int(w, wd);
  hant_jsonw_arr_end(w);
}

int cmd_inspect(int argc, char **argv) {
  bool json = false;
  hant_opt_list models = {0};
  const hant_opt opts[] = {
      HANT_OPT_FLAG("json", 0, &json,
                    "print {\"model\", \"format\", \"input\", \"output\", \"macs\", \"params\",\n"
                    "\"slots\": [{\"name\", \"kind\", \"arch\", \"first\", \"last\", \"in\", \"out\",\n"
                    "\"macs\", \"params\"}, ...]} on stdout"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill inspect", .usage = usage, .column = 12, .opts = opts,
                            .operands = &models};
  int code = cli_parse(&cmd, argc, argv);
  const char *model = models.n ? models.v[0] : NULL;
  if (code < 0 && models.n > 1)
    code = cli_usage_error(&cmd, "unexpected '%s'; see --help", models.v[1]);
  else if (code < 0 && !model)
    code = cli_usage_error(&cmd, "a MODEL file is required; see --help");
  hant_opt_list_free(&models);
  if (code >= 0)
    return code;
  /* Native files start with their magic; anything else is read as ONNX. */
  char magic[8] = {0};
  FILE *f = fopen(model, "rb");
  if (!f) {
    fprintf(stderr, "hant-distill inspect: %s: cannot open\n", model);
    return EXIT_FAIL;
  }
  bool native = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "HANTNET1", 8);
  fclose(f);
  hant_net *net = NULL;
  hant_onnx_info info;
  memset(&info, 0, sizeof(info));
  int rc = native ? hant_netfile_load(model, &net, NULL) : hant_onnx_load(model, &net, &info);
  if (rc) {
    fprintf(stderr, "hant-distill inspect: %s\n", hant_errmsg());
    return EXIT_FAIL;
  }
  const hant_node *in = &net->nodes[0], *out = &net->nodes[hant_net_output(net)];
  double macs = hant_net_macs(net);
  size_t params = hant_net_param_count(net);
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "model"), hant_jsonw_str(&w, model);
    hant_jsonw_key(&w, "format"), hant_jsonw_str(&w, native ? "hant" : "onnx");
    if (!native) {
      hant_jsonw_key(&w, "opset"), hant_jsonw_int(&w, info.opset);
      hant_jsonw_key(&w, "producer"), hant_jsonw_str(&w, info.producer);
      hant_jsonw_key(&w, "onnx_nodes"), hant_jsonw_int(&w, info.onnx_nodes);
    }
    json_shape(&w, "input", in->c, in->h, in->w);
    json_shape(&w, "output", out->c, out->h, out->w);
    hant_jsonw_key(&w, "nodes"), hant_jsonw_int(&w, net->n_nodes);
    hant_jsonw_key(&w, "macs"), hant_jsonw_num(&w, macs);
    hant_jsonw_key(&w, "params"), hant_jsonw_int(&w, (long long)params);
    hant_jsonw_key(&w, "slots");
    hant_jsonw_arr_begin(&w);
    for (int i = 0; i < net->n_slots; i++) {
      const hant_slot *s = &net->slots[i];
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "name"), hant_jsonw_str(&w, s->name);
      hant_jsonw_key(&w, "kind"), hant_jsonw_str(&w, s->kind);
      hant_jsonw_key(&w, "arch"), hant_jsonw_str(&w, s->desc);
      hant_jsonw_key(&w, "first"), hant_jsonw_int(&w, s->first);
      hant_jsonw_key(&w, "last"), hant_jsonw_int(&w, s->last);
      json_shape(&w, "in", s->in_c, s->in_h, s->in_w);
      json_shape(&w, "out", s->out_c, s->out_h, s->out_w);
      hant_jsonw_key(&w, "macs"), hant_jsonw_num(&w, hant_slot_macs(net, s));
      hant_jsonw_key(&w, "params"), hant_jsonw_int(&w, (long long)hant_slot_params(net, s));
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_arr_end(&w);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    char a[32], b[32];
    if (native)
      printf("model    %s (hant native)\n", model);
    else
      printf("model    %s (ONNX opset %d, %d ONNX nodes, producer %s)\n", model, info.opset, info.onnx_nodes,
             info.producer[0] != ' ' ? info.producer : "unknown");
    shape(a, sizeof(a), in->c, in->h, in->w);
    shape(b, sizeof(b), out->c, out->h, out->w);
    printf("input    %s, output %s, %d hant operators\n", a, b, net->n_nodes - 1);
    printf("total    %.3f MMAC, %zu parameters, %d slots\n\n", macs / 1e6, params, net->n_slots);
    printf("%-7s %-10s %-11s %-11s %10s %9s %-9s %s\n", "slot", "kind", "in", "out", "MMAC", "params", "nodes",
           "architecture");
    for (int i = 0; i < net->n_slots; i++) {
      const hant_slot *s = &net->slots[i];
      char nodes[24];
      shape(a, sizeof(a), s->in_c, s->in_h, s->in_w);
      shape(b, sizeof(b), s->out_c, s->out_h, s->out_w);
      snprintf(nodes, sizeof(nodes), "%d-%d", s->first, s->last);
      printf("%-7s %-10s %-11s %-11s %10.3f %9zu %-9s %s\n", s->name, s->kind, a, b, hant_slot_macs(net, s) / 1e6,
             hant_slot_params(net, s), nodes, s->desc);
    }
  }
  hant_net_destroy(net);
  return EXIT_OK_;
}
