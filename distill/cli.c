/* SPDX-License-Identifier: MIT */
/* cli.c: turns the option parser's answers into hant-distill's help, messages and exit codes. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse(const hant_opt_cmd *cmd, int argc, char **argv) {
  int rc = hant_opt_parse(cmd, argc, argv, NULL);
  if (rc == HANT_OPT_HELP_ASKED) {
    hant_opt_help(cmd, stdout);
    return EXIT_OK_;
  }
  if (rc) {
    fprintf(stderr, "%s: %s\n", cmd->name, hant_errmsg());
    return EXIT_USAGE;
  }
  return -1;
}

int cli_usage_error(const hant_opt_cmd *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return EXIT_USAGE;
}

/* Reads "v" or "v1,v2,..." into out[0..k), k at most max. */
static bool parse_values(const char *name, const char *opt, const char *s, int max, float *out, int *k, bool positive) {
  *k = 0;
  const char *p = s;
  while (*p) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || (*end && *end != ',') || *k == max || !(v > -1e6 && v < 1e6) || (positive && !(v > 0))) {
      if (max == 1)
        fprintf(stderr, "%s: %s expects a %snumber, got '%s'\n", name, opt, positive ? "positive " : "", s);
      else
        fprintf(stderr, "%s: %s expects 1 or %d %snumbers separated by commas, got '%s'\n", name, opt, max,
                positive ? "positive " : "", s);
      return false;
    }
    out[(*k)++] = (float)v;
    p = *end ? end + 1 : end;
  }
  if (*k == 0) {
    fprintf(stderr, "%s: %s expects at least one number\n", name, opt);
    return false;
  }
  return true;
}

int cli_data_spec(const char *name, const data_args *a, const hant_net *net, const hant_build_settings *bs,
                  hant_data_spec *spec) {
  memset(spec, 0, sizeof(*spec));
  spec->data = a->data ? a->data : "fmnist";
  spec->rgb_to_gray = a->gray;
  if (!a->data && !a->format && bs && bs->data[0] && hant_data_spec_parse(bs->data, spec)) {
    fprintf(stderr, "%s: %s\n", name, hant_errmsg());
    return EXIT_USAGE;
  }
  if (a->format && (spec->format = hant_data_format_from_name(a->format)) == HANT_DATA_FORMAT_COUNT) {
    fprintf(stderr, "%s: --data-format expects idx, cifar, npy or folder, got '%s'\n", name, a->format);
    return EXIT_USAGE;
  }
  if (a->format && (!a->data || !strcmp(a->data, "fmnist")) && spec->format != HANT_DATA_IDX &&
      spec->format != HANT_DATA_AUTO) {
    fprintf(stderr, "%s: --data-format %s needs --data DIR (fmnist is IDX)\n", name, a->format);
    return EXIT_USAGE;
  }
  if (net) {
    const hant_node *in = &net->nodes[0], *out = &net->nodes[hant_net_output(net)];
    spec->c = in->c, spec->h = in->h, spec->w = in->w;
    spec->classes = out->c * out->h * out->w;
  }
  int max = spec->c ? spec->c : HANT_DATA_MAX_CHANNELS;
  if (spec->c > HANT_DATA_MAX_CHANNELS) {
    fprintf(stderr, "%s: the teacher takes %d channels; data has at most %d\n", name, spec->c, HANT_DATA_MAX_CHANNELS);
    return EXIT_USAGE;
  }
  if (a->mean || a->std) {
    int km = 0, ks = 0;
    float m[HANT_DATA_MAX_CHANNELS], sd[HANT_DATA_MAX_CHANNELS];
    if ((a->mean && !parse_values(name, "--mean", a->mean, max, m, &km, false)) ||
        (a->std && !parse_values(name, "--std", a->std, max, sd, &ks, true)))
      return EXIT_USAGE;
    if (!a->mean)
      for (km = 0; km < ks; km++)
        m[km] = 0.0f;
    if (!a->std)
      for (ks = 0; ks < km; ks++)
        sd[ks] = 1.0f;
    /* One value stands for every channel; otherwise both give one per channel. */
    int k = km > ks ? km : ks;
    if ((km != 1 && km != k) || (ks != 1 && ks != k)) {
      fprintf(stderr, "%s: --mean has %d values and --std %d; give 1 or one per channel\n", name, km, ks);
      return EXIT_USAGE;
    }
    for (int j = 0; j < k; j++) {
      spec->mean[j] = m[km == 1 ? 0 : j];
      spec->std[j] = sd[ks == 1 ? 0 : j];
    }
    spec->norm_k = k;
  } else if (bs && bs->norm_k > 0) {
    spec->norm_k = bs->norm_k;
    memcpy(spec->mean, bs->mean, sizeof(spec->mean));
    memcpy(spec->std, bs->std, sizeof(spec->std));
  }
  return -1;
}

int cli_data_load(const char *name, const hant_data_spec *spec, hant_split split, int limit, hant_dataset *out) {
  int rc = hant_data_load(spec, split, limit, out);
  if (rc)
    fprintf(stderr, "%s: %s\n", name, hant_errmsg());
  return rc;
}

void cli_data_record(const hant_data_spec *spec, hant_build_settings *bs) {
  hant_data_describe(spec, bs->data, sizeof(bs->data));
  bs->norm_k = spec->norm_k;
  memcpy(bs->mean, spec->mean, sizeof(bs->mean));
  memcpy(bs->std, spec->std, sizeof(bs->std));
}
