/* SPDX-License-Identifier: MIT */
/* options.c: parses argv against an option table, checks numbers once for every program, and writes the help. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

void hant_opt_list_free(hant_opt_list *l) {
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static int list_add(hant_opt_list *l, const char *s) {
  const char **v = realloc(l->v, sizeof(*v) * (size_t)(l->n + 1));
  if (!v)
    return hant__error(HANT_ENOMEM, "out of memory collecting the arguments");
  v[l->n++] = s;
  l->v = v;
  return 0;
}

int hant_opt_number(const char *opt, const char *s, bool whole, double lo, double hi, double *out) {
  char *end;
  double v;
  errno = 0;
  /* Whole numbers go through strtoll so that large ones (seeds) are read
   * exactly and "1e3" or "2.0" are refused where a count is expected. */
  if (whole)
    v = (double)strtoll(s, &end, 10);
  else
    v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || !(v >= lo && v <= hi)) {
    if (whole)
      return hant__error(HANT_EINVAL, "%s expects an integer from %.0f to %.0f, got '%s'", opt, lo, hi, s);
    return hant__error(HANT_EINVAL, "%s expects a number from %g to %g, got '%s'", opt, lo, hi, s);
  }
  *out = v;
  return 0;
}

static bool takes_value(const hant_opt *o) {
  return o->kind == HANT_OPT_KIND_STRING || o->kind == HANT_OPT_KIND_INT || o->kind == HANT_OPT_KIND_DOUBLE ||
         o->kind == HANT_OPT_KIND_LIST;
}

/* The option argv[i] names: "--name", "--name=value" or "-s". *value is
 * set to what follows '=' (NULL when there is none). */
static const hant_opt *find(const hant_opt *opts, const char *a, const char **value) {
  *value = NULL;
  if (a[1] != '-') {
    for (const hant_opt *o = opts; o->name; o++)
      if (o->short_name && a[1] == o->short_name && !a[2])
        return o;
    return NULL;
  }
  const char *name = a + 2, *eq = strchr(name, '=');
  size_t n = eq ? (size_t)(eq - name) : strlen(name);
  for (const hant_opt *o = opts; o->name; o++)
    if (strlen(o->name) == n && !strncmp(o->name, name, n)) {
      *value = eq ? eq + 1 : NULL;
      return o;
    }
  return NULL;
}

static int store(const hant_opt *o, const char *opt, const char *value) {
  double v;
  int rc;
  switch (o->kind) {
  case HANT_OPT_KIND_STRING:
    *o->to.string = value;
    return 0;
  case HANT_OPT_KIND_INT:
    if ((rc = hant_opt_number(opt, value, true, o->lo, o->hi, &v)))
      return rc;
    *o->to.integer = (long)v;
    return 0;
  case HANT_OPT_KIND_DOUBLE:
    if ((rc = hant_opt_number(opt, value, false, o->lo, o->hi, &v)))
      return rc;
    *o->to.number = v;
    return 0;
  case HANT_OPT_KIND_LIST:
    return list_add(o->to.list, value);
  default:
    HANT_ASSERT(!"an option with a value has a value kind");
  }
  return HANT_EINVAL;
}

int hant_opt_parse(const hant_opt_cmd *cmd, int argc, char **argv, int *next) {
  int i = 1, rc = 0;
  bool options = true;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (options && !strcmp(a, "--")) {
      options = false;
      if (cmd->stop_at_operand) {
        i++;
        break;
      }
      continue;
    }
    if (!options || a[0] != '-' || !a[1]) {
      if (cmd->stop_at_operand)
        break;
      if (!cmd->operands) {
        rc = hant__error(HANT_EINVAL, "unexpected argument '%s'; see '%s --help'", a, cmd->name);
        break;
      }
      if ((rc = list_add(cmd->operands, a)))
        break;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      rc = HANT_OPT_HELP_ASKED;
      break;
    }
    const char *value;
    const hant_opt *o = find(cmd->opts, a, &value);
    if (!o || o->kind == HANT_OPT_KIND_HELP) {
      rc = hant__error(HANT_EINVAL, "unknown option '%s'; see '%s --help'", a, cmd->name);
      break;
    }
    /* Messages name the option as the user would write it, without any
     * "=value" they attached. */
    char opt[72];
    if (a[1] == '-')
      snprintf(opt, sizeof(opt), "--%s", o->name);
    else
      snprintf(opt, sizeof(opt), "-%c", o->short_name);
    if (!takes_value(o)) {
      if (value) {
        rc = hant__error(HANT_EINVAL, "%s takes no value, got '%s'", opt, value);
        break;
      }
      *o->to.flag = true;
      continue;
    }
    if (!value) {
      if (i + 1 >= argc) {
        rc = hant__error(HANT_EINVAL, "%s needs a value", opt);
        break;
      }
      value = argv[++i];
    }
    if ((rc = store(o, opt, value)))
      break;
  }
  if (next)
    *next = i;
  return rc;
}

/* Writes text, indenting every line after the first to `column`. */
static void put_indented(FILE *f, const char *text, int column) {
  for (const char *p = text; *p; p++) {
    fputc(*p, f);
    if (*p == '\n' && p[1])
      fprintf(f, "%*s", column, "");
  }
}

void hant_opt_help(const hant_opt_cmd *cmd, FILE *f) {
  int column = cmd->column ? cmd->column : 24;
  if (cmd->usage)
    fputs(cmd->usage, f);
  for (const hant_opt *o = cmd->opts; o && o->name; o++) {
    if (!o->help)
      continue;
    int n = o->short_name ? fprintf(f, "  -%c, --%s", o->short_name, o->name) : fprintf(f, "  --%s", o->name);
    if (o->arg)
      n += fprintf(f, " %s", o->arg);
    /* A head that reaches the column keeps two spaces before its text. */
    fprintf(f, "%*s", n < column ? column - n : 2, "");
    put_indented(f, o->help, column);
    fputc('\n', f);
  }
  if (cmd->footer)
    fputs(cmd->footer, f);
}
