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

/* The SVG of one plot of a device, malloc'd. axis 0: energy, 1: latency. */
static char *plot_svg(const hant_report *r, const hant_report_device *d, int axis) {
  int nc = 0;
  for (int i = 0; i < r->n_entries; i++)
    if (!strcmp(r->entries[i].device, d->name))
      nc++;
  hant_plot_point *chosen = calloc((size_t)nc + 1, sizeof(*chosen));
  char(*labels)[160] = calloc((size_t)nc + 1, sizeof(*labels));
  char *buf = NULL;
  size_t len = 0;
  FILE *f = NULL;
  if (!chosen || !labels)
    goto out;
  int k = 0;
  for (int i = 0; i < r->n_entries; i++) {
    const hant_report_entry *e = &r->entries[i];
    double x = axis ? e->latency_ms : e->energy_mj;
    if (strcmp(e->device, d->name) || !isfinite(x) || !isfinite(e->predicted_accuracy) || !(x > 0))
      continue;
    snprintf(labels[k], sizeof(labels[k]), "%s: predicted %.4f, test %.4f", e->name, e->predicted_accuracy,
             e->test_accuracy);
    chosen[k] = (hant_plot_point){x, e->predicted_accuracy, labels[k]};
    k++;
  }
  hant_plot_point teacher = {axis ? d->teacher_latency_ms : d->teacher_energy_mj, d->teacher_accuracy, "teacher"};
  char title[160];
  snprintf(title, sizeof(title), "%s: predicted accuracy against %s", d->name, axis ? "latency" : "energy");
  hant_plot p = {0};
  p.title = title;
  p.xlabel = axis ? "latency per inference (ms)" : "energy per inference (mJ)";
  p.ylabel = "predicted accuracy";
  p.front = axis ? d->front_latency : d->front_energy;
  p.n_front = axis ? d->n_front_latency : d->n_front_energy;
  p.chosen = chosen;
  p.n_chosen = k;
  p.reference = isfinite(teacher.x) && isfinite(teacher.y) && teacher.x > 0 ? &teacher : NULL;
  /* A log axis only when the costs span more than a decade: over a
   * narrower range it would show no ticks. */
  double lo = INFINITY, hi = 0;
  for (int i = 0; i < p.n_front + p.n_chosen + (p.reference != NULL); i++) {
    double x = i < p.n_front ? p.front[i].x : i < p.n_front + p.n_chosen ? chosen[i - p.n_front].x : teacher.x;
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
  free(labels);
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

int hant_report_write(const hant_report *r, const char *dir) {
  char path[1200];
  int rc = 0;
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

  int ok = 0, failed = 0;
  for (int i = 0; i < r->n_entries; i++) {
    bool f = !strcmp(r->entries[i].status, "failed");
    ok += !f;
    failed += f;
  }
  static const char *const head[] = {"device",   "entry",      "budgets",     "status",    "power mode",
                                     "predicted acc.", "test acc.", "latency ms", "energy mJ", "power W",
                                     "gCO2e / 1M inf.", "fine-tune epochs"};
  enum { NCOL = sizeof(head) / sizeof(head[0]) };

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
  fprintf(f, "%d entries: %d ok, %d failed.\n\n", r->n_entries, ok, failed);
  for (int c = 0; c < NCOL; c++)
    fprintf(f, "| %s ", head[c]);
  fprintf(f, "|\n");
  for (int c = 0; c < NCOL; c++)
    fprintf(f, "|%s", c >= 5 ? "---:" : "---");
  fprintf(f, "|\n");
  for (int i = 0; i < r->n_entries; i++) {
    const hant_report_entry *e = &r->entries[i];
    char v[7][32];
    fmt(v[0], 32, 1, 4, e->predicted_accuracy);
    fmt(v[1], 32, 1, 4, e->test_accuracy);
    fmt(v[2], 32, 0, 4, e->latency_ms);
    fmt(v[3], 32, 0, 4, e->energy_mj);
    fmt(v[4], 32, 0, 4, e->power_w);
    fmt(v[5], 32, 0, 4, e->co2e_g_per_million);
    snprintf(v[6], 32, "%d", e->finetune_epochs);
    fprintf(f, "| ");
    md_cell(f, e->device);
    fprintf(f, " | ");
    md_cell(f, e->name);
    fprintf(f, " | ");
    md_cell(f, e->budgets);
    fprintf(f, " | %s", e->status);
    if (e->error) {
      fprintf(f, ": ");
      md_cell(f, e->error);
    }
    fprintf(f, " | ");
    md_cell(f, e->power_mode && *e->power_mode ? e->power_mode : "-");
    fprintf(f, " | %s | %s | %s | %s | %s | %s | %s |\n", v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
  }
  fprintf(f, "\nPredicted accuracy is the teacher's validation accuracy plus the chosen candidates' scores; "
             "test accuracy is measured on the assembled (and fine-tuned) network. Latency, energy and power are "
             "the library's predictions for the device.\n");
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
             "td.num{text-align:right}\n"
             "tr.failed td{background:#fde2e2}\ntr.ok td{background:#e4f6e4}\n"
             ".plots{display:flex;flex-wrap:wrap;gap:1em}\n"
             "</style>\n</head>\n<body>\n<h1>");
  esc(f, r->title ? r->title : "hant fleet regeneration");
  fprintf(f, "</h1>\n");
  if (r->subtitle) {
    fprintf(f, "<p>");
    esc(f, r->subtitle);
    fprintf(f, "</p>\n");
  }
  fprintf(f, "<p>%d entries: %d ok, %d failed.</p>\n<table>\n<tr>", r->n_entries, ok, failed);
  for (int c = 0; c < NCOL; c++)
    fprintf(f, "<th>%s</th>", head[c]);
  fprintf(f, "</tr>\n");
  for (int i = 0; i < r->n_entries; i++) {
    const hant_report_entry *e = &r->entries[i];
    char v[7][32];
    fmt(v[0], 32, 1, 4, e->predicted_accuracy);
    fmt(v[1], 32, 1, 4, e->test_accuracy);
    fmt(v[2], 32, 0, 4, e->latency_ms);
    fmt(v[3], 32, 0, 4, e->energy_mj);
    fmt(v[4], 32, 0, 4, e->power_w);
    fmt(v[5], 32, 0, 4, e->co2e_g_per_million);
    snprintf(v[6], 32, "%d", e->finetune_epochs);
    fprintf(f, "<tr class=\"%s\"><td>", e->status);
    esc(f, e->device);
    fprintf(f, "</td><td>");
    esc(f, e->name);
    fprintf(f, "</td><td>");
    esc(f, e->budgets);
    fprintf(f, "</td><td>%s", e->status);
    if (e->error) {
      fprintf(f, ": ");
      esc(f, e->error);
    }
    fprintf(f, "</td><td>");
    esc(f, e->power_mode && *e->power_mode ? e->power_mode : "-");
    fprintf(f, "</td>");
    for (int c = 0; c < 7; c++)
      fprintf(f, "<td class=\"num\">%s</td>", v[c]);
    fprintf(f, "</tr>\n");
  }
  fprintf(f, "</table>\n");
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
  for (int i = 0; i < 2 * r->n_devices; i++)
    free(svgs[i]);
  free(svgs);
  return rc;
}
