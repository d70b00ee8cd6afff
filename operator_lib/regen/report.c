/* SPDX-License-Identifier: MIT */
/* report.c: writes the fleet regeneration report in Markdown and HTML with SVG Pareto plots, atomically. */
#include "report.h"

#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "plural.h"

int hant_report_write_atomic(const char *path, const void *data, size_t len, int *changed) {
  if (changed)
    *changed = 0;
  /* Unchanged content: leave the file (and its mtime) alone. */
  FILE *old = fopen(path, "rb");
  if (old) {
    int same = 1;
    char buf[8192];
    size_t off = 0, k;
    while ((k = fread(buf, 1, sizeof(buf), old)) > 0) {
      if (off + k > len || memcmp(buf, (const char *)data + off, k)) {
        same = 0;
        break;
      }
      off += k;
    }
    fclose(old);
    if (same && off == len)
      return 0;
  }
  int rc = hant_file_write_atomic(path, data, len);
  if (rc)
    return rc;
  if (changed)
    *changed = 1;
  return 0;
}

/* Text for HTML and XML: & < > " escaped. */
static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* Text for a Markdown table cell: '|' and newlines would break the row. */
static void md_cell(FILE *f, const char *s) {
  for (; s && *s; s++)
    fputs(*s == '|' ? "\\|" : *s == '\n' ? " " : (char[2]){*s, 0}, f);
}

/* A number with `digits` significant digits (or fixed decimals when
 * fixed), "-" when unknown. */
static void fmt(char *buf, size_t n, int fixed, int digits, double v) {
  if (!isfinite(v))
    snprintf(buf, n, "-");
  else if (fixed)
    snprintf(buf, n, "%.*f", digits, v);
  else
    snprintf(buf, n, "%.*g", digits, v);
}

/* The x of an entry on a plot's axis. axis 0: energy, 1: latency. */
static double axis_x(const hant_report_entry *e, int axis) { return axis ? e->latency_ms : e->energy_mj; }

/* The entry costs more than the teacher on this axis. */
static bool over_teacher(const hant_report_entry *e, int axis) {
  double v = axis_x(e, axis), t = axis ? e->teacher_latency_ms : e->teacher_energy_mj;
  return isfinite(v) && isfinite(t) && v > t;
}

/* The SVG of one plot of a device, malloc'd. axis 0: energy, 1: latency. */
static char *plot_svg(const hant_report *r, const hant_report_device *d, int axis) {
  int nc = 0;
  for (int i = 0; i < r->n_entries; i++)
    if (!strcmp(r->entries[i].device, d->name))
      nc++;
  hant_plot_point *chosen = calloc((size_t)nc + 1, sizeof(*chosen));
  hant_plot_point *measured = calloc((size_t)nc + 1, sizeof(*measured));
  hant_plot_line *budgets = calloc((size_t)nc + 1, sizeof(*budgets));
  char(*labels)[2][200] = calloc((size_t)nc + 1, sizeof(*labels));
  char(*blabels)[160] = calloc((size_t)nc + 1, sizeof(*blabels));
  char *buf = NULL;
  size_t len = 0;
  FILE *f = NULL;
  if (!chosen || !measured || !budgets || !labels || !blabels)
    goto out;
  int k = 0, nb = 0;
  for (int i = 0; i < r->n_entries; i++) {
    const hant_report_entry *e = &r->entries[i];
    if (strcmp(e->device, d->name))
      continue;
    double bx = axis ? e->budget_latency_ms : e->budget_energy_mj;
    if (isfinite(bx) && bx > 0) {
      snprintf(blabels[nb], sizeof(blabels[nb]), "%s: %.4g %s", e->name, bx, axis ? "ms" : "mJ");
      budgets[nb] = (hant_plot_line){bx, blabels[nb]};
      nb++;
    }
    double x = axis_x(e, axis);
    if (!isfinite(x) || !isfinite(e->predicted_accuracy) || !(x > 0))
      continue;
    bool over = over_teacher(e, axis);
    snprintf(labels[k][0], sizeof(labels[k][0]), "%s: predicted %.2f%%%s", e->name, 100 * e->predicted_accuracy,
             over ? (axis ? "; slower than the teacher" : "; hungrier than the teacher") : "");
    snprintf(labels[k][1], sizeof(labels[k][1]), "%s: measured test %.2f%%", e->name, 100 * e->test_accuracy);
    chosen[k] = (hant_plot_point){x, e->predicted_accuracy, labels[k][0], over};
    /* No measured latency or energy is recorded yet: the measured point
     * sits at the predicted cost. */
    measured[k] = (hant_plot_point){x, e->test_accuracy, labels[k][1], false};
    k++;
  }
  hant_plot_point teacher = {axis ? d->teacher_latency_ms : d->teacher_energy_mj, d->teacher_accuracy, "teacher",
                             false};
  char title[160];
  snprintf(title, sizeof(title), "%s: accuracy against %s", d->name, axis ? "latency" : "energy");
  hant_plot p = {0};
  p.title = title;
  p.xlabel = axis ? "latency per inference (ms)" : "energy per inference (mJ)";
  p.ylabel = "accuracy (%)";
  p.front = axis ? d->front_latency : d->front_energy;
  p.n_front = axis ? d->n_front_latency : d->n_front_energy;
  p.chosen = chosen;
  p.n_chosen = k;
  p.measured = measured;
  p.n_measured = k;
  p.reference = isfinite(teacher.x) && isfinite(teacher.y) && teacher.x > 0 ? &teacher : NULL;
  p.budgets = budgets;
  p.n_budgets = nb;
  p.y_scale = 100;
  p.y_min_span = 0.02; /* two points of accuracy at least */
  /* A log axis only when the costs span more than a decade: over a
   * narrower range it would show no ticks. The front counts only where it
   * is within the accuracies shown. */
  double lo = INFINITY, hi = 0, ymin = INFINITY;
  for (int i = 0; i < k; i++)
    ymin = fmin(ymin, fmin(chosen[i].y, isfinite(measured[i].y) ? measured[i].y : INFINITY));
  if (p.reference)
    ymin = fmin(ymin, teacher.y);
  for (int i = 0; i < p.n_front + k + (p.reference != NULL) + nb; i++) {
    double x = i < p.n_front                  ? p.front[i].x
               : i < p.n_front + k            ? chosen[i - p.n_front].x
               : i < p.n_front + k + nb       ? budgets[i - p.n_front - k].x
                                              : teacher.x;
    if (i < p.n_front && isfinite(ymin) && !(p.front[i].y >= ymin - 0.05))
      continue;
    if (isfinite(x) && x > 0) {
      lo = x < lo ? x : lo;
      hi = x > hi ? x : hi;
    }
  }
  p.log_x = hi > 10 * lo;
  if (!(f = open_memstream(&buf, &len)))
    goto out;
  if (hant_plot_svg(&p, f)) {
    fclose(f);
    free(buf);
    buf = NULL;
    f = NULL;
    goto out;
  }
  fclose(f);
out:
  free(chosen);
  free(measured);
  free(budgets);
  free(labels);
  free(blabels);
  return buf;
}

static int flush_file(FILE *f, char **buf, size_t *len, const char *path) {
  if (fclose(f))
    return hant__error(HANT_EIO, "%s: cannot format", path);
  int rc = *buf ? hant_report_write_atomic(path, *buf, *len, NULL) : HANT_ENOMEM;
  free(*buf);
  *buf = NULL;
  return rc;
}

static const char *const head[] = {"device",         "entry",     "budgets",    "status",
                                   "power mode",     "predicted acc. %", "test acc. %", "latency ms (vs teacher)",
                                   "energy mJ (vs teacher)", "power W", "gCO2e / 1M inf.", "fine-tune epochs",
                                   "against the teacher"};
enum { NCOL = sizeof(head) / sizeof(head[0]), FIRST_NUM = 5 };

/* One table row as text, shared by report.md and report.html. */
typedef struct row {
  const char *kind;       /* "ok", "failed" or "teacher": the HTML row's class */
  char cell[NCOL][400];
  bool flag;              /* the last cell is a warning */
} row;

/* A cost with its change against the teacher's: "0.512 (-62%)". */
static void cost_cell(char *buf, size_t n, double v, double teacher) {
  fmt(buf, n, 0, 4, v);
  if (isfinite(v) && isfinite(teacher) && teacher > 0) {
    size_t o = strlen(buf);
    snprintf(buf + o, n - o, " (%+.0f%%)", 100.0 * (v / teacher - 1.0));
  }
}

static void entry_row(const hant_report_entry *e, row *w) {
  w->kind = !strcmp(e->status, "failed") ? "failed" : "ok";
  snprintf(w->cell[0], sizeof(w->cell[0]), "%s", e->device);
  snprintf(w->cell[1], sizeof(w->cell[1]), "%s", e->name);
  snprintf(w->cell[2], sizeof(w->cell[2]), "%s", e->budgets);
  snprintf(w->cell[3], sizeof(w->cell[3]), "%s%s%s", e->status, e->error ? ": " : "", e->error ? e->error : "");
  snprintf(w->cell[4], sizeof(w->cell[4]), "%s", e->power_mode && *e->power_mode ? e->power_mode : "-");
  fmt(w->cell[5], sizeof(w->cell[5]), 1, 2, 100 * e->predicted_accuracy);
  fmt(w->cell[6], sizeof(w->cell[6]), 1, 2, 100 * e->test_accuracy);
  cost_cell(w->cell[7], sizeof(w->cell[7]), e->latency_ms, e->teacher_latency_ms);
  cost_cell(w->cell[8], sizeof(w->cell[8]), e->energy_mj, e->teacher_energy_mj);
  fmt(w->cell[9], sizeof(w->cell[9]), 0, 4, e->power_w);
  fmt(w->cell[10], sizeof(w->cell[10]), 0, 4, e->co2e_g_per_million);
  snprintf(w->cell[11], sizeof(w->cell[11]), "%d", e->finetune_epochs);
  bool slow = over_teacher(e, 1), hungry = over_teacher(e, 0);
  w->flag = slow || hungry;
  if (w->flag)
    snprintf(w->cell[12], sizeof(w->cell[12]), "WARNING: %s%s%s than the teacher", slow ? "slower" : "",
             slow && hungry ? " and " : "", hungry ? "hungrier" : "");
  else if (isfinite(e->teacher_latency_ms) && isfinite(e->latency_ms) && isfinite(e->energy_mj) &&
           isfinite(e->teacher_energy_mj) && e->teacher_latency_ms > 0 && e->teacher_energy_mj > 0)
    snprintf(w->cell[12], sizeof(w->cell[12]), "%.2fx faster, %.2fx less energy", e->teacher_latency_ms / e->latency_ms,
             e->teacher_energy_mj / e->energy_mj);
  else
    snprintf(w->cell[12], sizeof(w->cell[12]), "-");
}

/* The teacher's row of a device, with the grid of the device's first entry that has one. */
static void teacher_row(const hant_report *r, const hant_report_device *d, row *w) {
  double grid = NAN;
  for (int i = 0; i < r->n_entries && !isfinite(grid); i++)
    if (!strcmp(r->entries[i].device, d->name))
      grid = r->entries[i].grid_g_per_kwh;
  w->kind = "teacher";
  w->flag = false;
  snprintf(w->cell[0], sizeof(w->cell[0]), "%s", d->name);
  snprintf(w->cell[1], sizeof(w->cell[1]), "teacher");
  snprintf(w->cell[2], sizeof(w->cell[2]), "-");
  snprintf(w->cell[3], sizeof(w->cell[3]), "reference");
  snprintf(w->cell[4], sizeof(w->cell[4]), "%s", d->teacher_power_mode && *d->teacher_power_mode ? d->teacher_power_mode : "-");
  fmt(w->cell[5], sizeof(w->cell[5]), 1, 2, 100 * d->teacher_accuracy);
  fmt(w->cell[6], sizeof(w->cell[6]), 1, 2, 100 * d->teacher_test_accuracy);
  fmt(w->cell[7], sizeof(w->cell[7]), 0, 4, d->teacher_latency_ms);
  fmt(w->cell[8], sizeof(w->cell[8]), 0, 4, d->teacher_energy_mj);
  /* mJ / ms = W; mJ per inference x 1e6 inferences = mJ / 3600 kWh. */
  fmt(w->cell[9], sizeof(w->cell[9]), 0, 4, d->teacher_energy_mj / d->teacher_latency_ms);
  fmt(w->cell[10], sizeof(w->cell[10]), 0, 4, d->teacher_energy_mj * grid / 3600.0);
  snprintf(w->cell[11], sizeof(w->cell[11]), "-");
  snprintf(w->cell[12], sizeof(w->cell[12]), "the network every entry replaces");
}

/* Every row of the table in order: each device's teacher before its first entry. */
static int table_rows(const hant_report *r, row **out) {
  row *w = calloc((size_t)(r->n_entries + r->n_devices) + 1, sizeof(*w));
  if (!w)
    return -1;
  int n = 0;
  for (int i = 0; i < r->n_entries; i++) {
    const hant_report_entry *e = &r->entries[i];
    bool first = true;
    for (int j = 0; j < i && first; j++)
      first = strcmp(r->entries[j].device, e->device) != 0;
    for (int d = 0; first && d < r->n_devices; d++)
      if (!strcmp(r->devices[d].name, e->device))
        teacher_row(r, &r->devices[d], &w[n++]);
    entry_row(e, &w[n++]);
  }
  *out = w;
  return n;
}

int hant_report_write(const hant_report *r, const char *dir) {
  char path[1200];
  int rc = 0;
  row *rows = NULL;
  snprintf(path, sizeof(path), "%s/plots", dir);
  if (mkdir(path, 0755) && errno != EEXIST)
    return hant__error(HANT_EIO, "%s: %s", path, strerror(errno));
  char **svgs = calloc((size_t)r->n_devices * 2 + 1, sizeof(*svgs));
  if (!svgs)
    return HANT_ENOMEM;
  for (int d = 0; d < r->n_devices && !rc; d++)
    for (int a = 0; a < 2 && !rc; a++) {
      char *s = plot_svg(r, &r->devices[d], a);
      if (!s) {
        rc = HANT_ENOMEM;
        break;
      }
      svgs[2 * d + a] = s;
      snprintf(path, sizeof(path), "%s/plots/%s-%s.svg", dir, r->devices[d].name, a ? "latency" : "energy");
      rc = hant_report_write_atomic(path, s, strlen(s), NULL);
    }
  if (rc)
    goto out;
  int nrows = table_rows(r, &rows);
  if (nrows < 0) {
    rc = HANT_ENOMEM;
    goto out;
  }

  int ok = 0, failed = 0, flagged = 0;
  for (int i = 0; i < r->n_entries; i++) {
    bool f = !strcmp(r->entries[i].status, "failed");
    ok += !f;
    failed += f;
  }
  for (int i = 0; i < nrows; i++)
    flagged += rows[i].flag;
  static const char note[] =
      "Accuracy is in percent: predicted is the teacher's validation accuracy plus the chosen candidates' scores; "
      "test is measured on the assembled (and fine-tuned) network. Latency, energy and power are the library's "
      "predictions for the device; in brackets, the change against the teacher on the same device and power mode "
      "(-62% is a 62% cut). The teacher's row gives its validation accuracy as predicted.";

  /* report.md */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    rc = HANT_ENOMEM;
    goto out;
  }
  fprintf(f, "# %s\n\n", r->title ? r->title : "hant fleet regeneration");
  if (r->subtitle)
    fprintf(f, "%s\n\n", r->subtitle);
  fprintf(f, "%d %s: %d ok, %d failed.", r->n_entries, hant_plural(r->n_entries, "entry", "entries"), ok, failed);
  if (flagged)
    fprintf(f, " **%d %s slower or hungrier than the teacher.**", flagged, hant_plural(flagged, "entry is", "entries are"));
  fprintf(f, "\n\n");
  for (int c = 0; c < NCOL; c++)
    fprintf(f, "| %s ", head[c]);
  fprintf(f, "|\n");
  for (int c = 0; c < NCOL; c++)
    fprintf(f, "|%s", c >= FIRST_NUM && c < NCOL - 1 ? "---:" : "---");
  fprintf(f, "|\n");
  for (int i = 0; i < nrows; i++) {
    for (int c = 0; c < NCOL; c++) {
      fprintf(f, "| ");
      bool strong = (c == 1 && !strcmp(rows[i].kind, "teacher")) || (c == NCOL - 1 && rows[i].flag);
      if (strong)
        fprintf(f, "**");
      md_cell(f, rows[i].cell[c]);
      if (strong)
        fprintf(f, "**");
      fprintf(f, " ");
    }
    fprintf(f, "|\n");
  }
  fprintf(f, "\n%s\n", note);
  for (int d = 0; d < r->n_devices; d++) {
    const char *n = r->devices[d].name;
    fprintf(f, "\n## %s\n\n![%s: accuracy against energy](plots/%s-energy.svg)\n"
               "![%s: accuracy against latency](plots/%s-latency.svg)\n",
            n, n, n, n, n);
  }
  snprintf(path, sizeof(path), "%s/report.md", dir);
  if ((rc = flush_file(f, &buf, &len, path)))
    goto out;

  /* report.html */
  if (!(f = open_memstream(&buf, &len))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
  esc(f, r->title ? r->title : "hant fleet regeneration");
  fprintf(f, "</title>\n<style>\n"
             "body{font-family:sans-serif;margin:2em;color:#222}\n"
             "table{border-collapse:collapse;margin:1em 0;font-size:90%%}\n"
             "th,td{border:1px solid #bbb;padding:4px 8px;text-align:left}\n"
             "td.num{text-align:right;white-space:nowrap}\n"
             "tr.failed td{background:#fde2e2}\ntr.ok td{background:#e4f6e4}\n"
             "tr.teacher td{background:#eef2fb;font-style:italic}\n"
             "td.flag{background:#d62728 !important;color:#fff;font-weight:bold}\n"
             "p.flag{color:#d62728;font-weight:bold}\n"
             ".plots{display:flex;flex-wrap:wrap;gap:1em}\nfigure{margin:0}\n"
             "</style>\n</head>\n<body>\n<h1>");
  esc(f, r->title ? r->title : "hant fleet regeneration");
  fprintf(f, "</h1>\n");
  if (r->subtitle) {
    fprintf(f, "<p>");
    esc(f, r->subtitle);
    fprintf(f, "</p>\n");
  }
  fprintf(f, "<p>%d %s: %d ok, %d failed.</p>\n", r->n_entries, hant_plural(r->n_entries, "entry", "entries"), ok,
          failed);
  if (flagged)
    fprintf(f, "<p class=\"flag\">%d %s slower or hungrier than the teacher.</p>\n", flagged,
            hant_plural(flagged, "entry is", "entries are"));
  fprintf(f, "<table>\n<tr>");
  for (int c = 0; c < NCOL; c++)
    fprintf(f, "<th>%s</th>", head[c]);
  fprintf(f, "</tr>\n");
  for (int i = 0; i < nrows; i++) {
    fprintf(f, "<tr class=\"%s\">", rows[i].kind);
    for (int c = 0; c < NCOL; c++) {
      const char *cls = c == NCOL - 1 && rows[i].flag ? " class=\"flag\"" : c >= FIRST_NUM && c < NCOL - 1 ? " class=\"num\"" : "";
      fprintf(f, "<td%s>", cls);
      esc(f, rows[i].cell[c]);
      fprintf(f, "</td>");
    }
    fprintf(f, "</tr>\n");
  }
  fprintf(f, "</table>\n<p>");
  esc(f, note);
  fprintf(f, "</p>\n");
  for (int d = 0; d < r->n_devices; d++) {
    fprintf(f, "<h2>");
    esc(f, r->devices[d].name);
    fprintf(f, "</h2>\n<div class=\"plots\">\n");
    for (int a = 0; a < 2; a++) {
      const char *s = svgs[2 * d + a];
      /* Inline: without the XML declaration. */
      if (!strncmp(s, "<?xml", 5) && strchr(s, '\n'))
        s = strchr(s, '\n') + 1;
      fprintf(f, "<figure>%s</figure>\n", s);
    }
    fprintf(f, "</div>\n");
  }
  fprintf(f, "</body>\n</html>\n");
  snprintf(path, sizeof(path), "%s/report.html", dir);
  rc = flush_file(f, &buf, &len, path);
out:
  free(rows);
  for (int i = 0; i < 2 * r->n_devices; i++)
    free(svgs[i]);
  free(svgs);
  return rc;
}
