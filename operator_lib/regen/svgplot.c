/* SPDX-License-Identifier: MIT */
/* svgplot.c: draws fronts and chosen points with axes and ticks, in plain SVG that browsers and XML parsers read. */
#include "svgplot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

static void xml_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default:
      if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
        fputc(*s, f);
    }
  }
}

typedef struct axes {
  double x0, x1, y0, y1; /* data range (log10 applied to x when log_x) */
  int left, right, top, bottom, w, h;
  bool log_x;
} axes;

static bool usable(const axes *a, const hant_plot_point *p) {
  return isfinite(p->x) && isfinite(p->y) && (!a->log_x || p->x > 0);
}

static double tx(const axes *a, double x) {
  double v = a->log_x ? log10(x) : x;
  return a->left + (v - a->x0) / (a->x1 - a->x0) * (a->w - a->left - a->right);
}

static double ty(const axes *a, double y) {
  return a->h - a->bottom - (y - a->y0) / (a->y1 - a->y0) * (a->h - a->top - a->bottom);
}

static void widen_x(axes *a, double x, bool *any) {
  double v = a->log_x ? log10(x) : x;
  if (!*any)
    a->x0 = a->x1 = v;
  a->x0 = fmin(a->x0, v), a->x1 = fmax(a->x1, v);
  *any = true;
}

static int cmp_x(const void *a, const void *b) {
  double d = ((const hant_plot_point *)a)->x - ((const hant_plot_point *)b)->x;
  return d < 0 ? -1 : d > 0;
}

/* A "nice" tick step: 1, 2 or 5 times a power of ten. */
static double nice_step(double span, int target) {
  double raw = span / target, p = pow(10, floor(log10(raw))), m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

int hant_plot_svg(const hant_plot *p, FILE *f) {
  /* Title row, legend row, then the plot area: the rows never overlap it. */
  axes a = {.left = 64, .right = 16, .top = 60, .bottom = 48, .w = p->width ? p->width : 640,
            .h = p->height ? p->height : 420, .log_x = p->log_x};
  double scale = p->y_scale > 0 ? p->y_scale : 1.0;
  /* y: the points someone reads (chosen, measured, teacher); the front
   * only when there are none. */
  bool any_y = false, any_x = false;
  double ylo = 0, yhi = 0;
  const hant_plot_point *sets[3] = {p->chosen, p->measured, p->reference};
  int counts[3] = {p->n_chosen, p->n_measured, p->reference ? 1 : 0};
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < counts[s]; i++)
      if (usable(&a, &sets[s][i])) {
        ylo = any_y ? fmin(ylo, sets[s][i].y) : sets[s][i].y;
        yhi = any_y ? fmax(yhi, sets[s][i].y) : sets[s][i].y;
        any_y = true;
      }
  if (!any_y)
    for (int i = 0; i < p->n_front; i++)
      if (usable(&a, &p->front[i])) {
        ylo = any_y ? fmin(ylo, p->front[i].y) : p->front[i].y;
        yhi = any_y ? fmax(yhi, p->front[i].y) : p->front[i].y;
        any_y = true;
      }
  if (!any_y)
    ylo = 0, yhi = 1;
  double span = yhi - ylo;
  if (span < p->y_min_span) {
    ylo -= (p->y_min_span - span) / 2, yhi += (p->y_min_span - span) / 2;
    span = p->y_min_span;
  }
  double py = span > 0 ? span * 0.25 : fabs(ylo) * 0.05 + 1e-3;
  a.y0 = ylo - py, a.y1 = yhi + py;
  /* x: every marker, the budget lines, and the front where it is visible. */
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < counts[s]; i++)
      if (usable(&a, &sets[s][i]))
        widen_x(&a, sets[s][i].x, &any_x);
  for (int i = 0; i < p->n_budgets; i++)
    if (isfinite(p->budgets[i].x) && (!a.log_x || p->budgets[i].x > 0))
      widen_x(&a, p->budgets[i].x, &any_x);
  for (int i = 0; i < p->n_front; i++)
    if (usable(&a, &p->front[i]) && p->front[i].y >= a.y0 && p->front[i].y <= a.y1)
      widen_x(&a, p->front[i].x, &any_x);
  if (!any_x)
    a.x0 = a.log_x ? -1 : 0, a.x1 = a.log_x ? 0 : 1;
  double px = (a.x1 - a.x0) * 0.06;
  if (px == 0)
    px = a.log_x ? 0.1 : fabs(a.x0) * 0.1 + 1e-3;
  a.x0 -= px, a.x1 += px;

  /* An id of this plot's own, so that two plots inline in one page do not
   * share their clip path's id. */
  unsigned long id = 5381;
  for (const char *s = p->title; s && *s; s++)
    id = id * 33 + (unsigned char)*s;
  id %= 1000000007UL;

  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n",
          a.w, a.h, a.w, a.h);
  fputs("<style>.front{fill:none;stroke:#1f77b4;stroke-width:1.5}.chosen,.legend-chosen{fill:#d62728;stroke:#000}"
        ".measured,.legend-measured{fill:#ff7f0e;stroke:#000}.pair{stroke:#888;stroke-dasharray:2 2}"
        ".reference,.legend-reference{fill:#2ca02c;stroke:#000}.flag{fill:none;stroke:#d62728;stroke-width:2}"
        ".budget{stroke:#9467bd;stroke-width:1.2;stroke-dasharray:6 3}.budget-label{fill:#9467bd;font-size:10px}"
        ".grid{stroke:#ddd}.axis{stroke:#333}.plot-area{fill:none;stroke:none}</style>\n",
        f);
  fputs("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n", f);
  fprintf(f, "<text class=\"title\" x=\"%d\" y=\"20\" font-size=\"14\">", a.left);
  xml_text(f, p->title);
  fputs("</text>\n", f);
  int pw = a.w - a.left - a.right, ph = a.h - a.top - a.bottom;
  fprintf(f, "<clipPath id=\"plot-clip-%lu\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n", id,
          a.left, a.top, pw, ph);
  fprintf(f, "<rect class=\"plot-area\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", a.left, a.top, pw, ph);
  /* Grid and ticks. */
  double ys = nice_step(a.y1 - a.y0, 5);
  for (double y = ceil(a.y0 / ys) * ys; y <= a.y1; y += ys)
    fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/><text class=\"ytick\" x=\"%d\" "
               "y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
            a.left, a.w - a.right, ty(&a, y), ty(&a, y), a.left - 6, ty(&a, y) + 4, fabs(y) < ys * 1e-6 ? 0 : y * scale);
  if (a.log_x) {
    for (double e = floor(a.x0); e <= a.x1; e += 1)
      for (int m = 1; m <= 9; m++) {
        double v = log10(m) + e;
        if (v < a.x0 || v > a.x1)
          continue;
        double X = a.left + (v - a.x0) / (a.x1 - a.x0) * pw;
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>\n", X, X, a.top, a.h - a.bottom);
        if (m == 1 || m == 2 || m == 5)
          fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.4g</text>\n", X, a.h - a.bottom + 16,
                  m * pow(10, e));
      }
  } else {
    double xs = nice_step(a.x1 - a.x0, 6);
    for (double x = ceil(a.x0 / xs) * xs; x <= a.x1; x += xs)
      fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/><text x=\"%.1f\" y=\"%d\" "
                 "text-anchor=\"middle\">%.4g</text>\n",
              tx(&a, x), tx(&a, x), a.top, a.h - a.bottom, tx(&a, x), a.h - a.bottom + 16,
              fabs(x) < xs * 1e-6 ? 0 : x);
  }
  fprintf(f, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", a.left, a.w - a.right,
          a.h - a.bottom, a.h - a.bottom);
  fprintf(f, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", a.left, a.left, a.top,
          a.h - a.bottom);
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (a.left + a.w - a.right) / 2, a.h - 10);
  xml_text(f, p->xlabel);
  fprintf(f, "%s</text>\n", a.log_x ? " (log scale)" : "");
  fprintf(f, "<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">", (a.top + a.h - a.bottom) / 2);
  xml_text(f, p->ylabel);
  fputs("</text>\n", f);
  /* Budget lines, labelled at the top of the plot area. */
  for (int i = 0; i < p->n_budgets; i++) {
    const hant_plot_line *b = &p->budgets[i];
    if (!isfinite(b->x) || (a.log_x && !(b->x > 0)))
      continue;
    double X = tx(&a, b->x);
    fprintf(f, "<line class=\"budget\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"><title>", X, X, a.top,
            a.h - a.bottom);
    xml_text(f, b->label);
    fprintf(f, "</title></line>\n<text class=\"budget-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"end\" "
               "transform=\"rotate(-90 %.1f %d)\">",
            X - 3, a.top + 4, X - 3, a.top + 4);
    xml_text(f, b->label);
    fputs("</text>\n", f);
  }
  /* The front as a step line: best score at each cost level. */
  if (p->n_front > 0) {
    hant_plot_point *s = malloc(sizeof(*s) * (size_t)p->n_front);
    if (!s)
      return HANT_ENOMEM;
    int n = 0;
    for (int i = 0; i < p->n_front; i++)
      if (usable(&a, &p->front[i]))
        s[n++] = p->front[i];
    qsort(s, (size_t)n, sizeof(*s), cmp_x);
    fprintf(f, "<path class=\"front\" clip-path=\"url(#plot-clip-%lu)\" d=\"", id);
    for (int i = 0; i < n; i++) {
      /* Far outside points are pulled in to the clip's neighbourhood:
       * the line keeps its direction and the numbers stay small. */
      double X = fmax(a.left - 50.0, fmin(a.w + 50.0, tx(&a, s[i].x)));
      double Y = fmax(a.top - 50.0, fmin(a.h + 50.0, ty(&a, s[i].y)));
      if (i == 0)
        fprintf(f, "M%.1f %.1f", X, Y);
      else
        fprintf(f, " H%.1f V%.1f", X, Y);
    }
    fputs("\"/>\n", f);
    free(s);
  }
  bool paired = p->n_measured == p->n_chosen;
  for (int i = 0; paired && i < p->n_chosen; i++)
    if (usable(&a, &p->chosen[i]) && usable(&a, &p->measured[i]))
      fprintf(f, "<line class=\"pair\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", tx(&a, p->chosen[i].x),
              ty(&a, p->chosen[i].y), tx(&a, p->measured[i].x), ty(&a, p->measured[i].y));
  for (int i = 0; i < p->n_chosen; i++) {
    const hant_plot_point *c = &p->chosen[i];
    if (!usable(&a, c))
      continue;
    if (c->flagged)
      fprintf(f, "<circle class=\"flag\" cx=\"%.1f\" cy=\"%.1f\" r=\"9\"/>\n", tx(&a, c->x), ty(&a, c->y));
    fprintf(f, "<circle class=\"chosen\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>", tx(&a, c->x), ty(&a, c->y));
    xml_text(f, c->label);
    fputs("</title></circle>\n", f);
  }
  for (int i = 0; i < p->n_measured; i++) {
    const hant_plot_point *m = &p->measured[i];
    if (!usable(&a, m))
      continue;
    double X = tx(&a, m->x), Y = ty(&a, m->y);
    fprintf(f, "<rect class=\"measured\" x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" "
               "transform=\"rotate(45 %.1f %.1f)\"><title>",
            X - 4, Y - 4, X, Y);
    xml_text(f, m->label);
    fputs("</title></rect>\n", f);
  }
  if (p->reference && usable(&a, p->reference)) {
    fprintf(f, "<rect class=\"reference\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\"><title>",
            tx(&a, p->reference->x) - 5, ty(&a, p->reference->y) - 5);
    xml_text(f, p->reference->label);
    fputs("</title></rect>\n", f);
  }
  /* The legend: its own row between the title and the plot area. */
  fprintf(f, "<g class=\"legend\" transform=\"translate(%d 42)\">", a.left);
  int x = 0;
  fprintf(f, "<path class=\"front\" d=\"M%d 0 H%d\"/><text x=\"%d\" y=\"4\">Pareto front</text>", x, x + 18, x + 22);
  x += 22 + 12 * 7 + 12;
  fprintf(f, "<circle class=\"legend-chosen\" cx=\"%d\" cy=\"0\" r=\"5\"/><text x=\"%d\" y=\"4\">predicted</text>",
          x + 5, x + 14);
  x += 14 + 9 * 7 + 12;
  fprintf(f, "<rect class=\"legend-measured\" x=\"%d\" y=\"-4\" width=\"8\" height=\"8\" transform=\"rotate(45 %d 0)\"/>"
             "<text x=\"%d\" y=\"4\">measured (test)</text>",
          x + 1, x + 5, x + 14);
  x += 14 + 15 * 7 + 12;
  fprintf(f, "<rect class=\"legend-reference\" x=\"%d\" y=\"-5\" width=\"10\" height=\"10\"/><text x=\"%d\" "
             "y=\"4\">teacher</text>",
          x, x + 14);
  x += 14 + 7 * 7 + 12;
  fprintf(f, "<path class=\"budget\" d=\"M%d 0 H%d\"/><text x=\"%d\" y=\"4\">budget</text>", x, x + 18, x + 22);
  fputs("</g>\n</svg>\n", f);
  return ferror(f) ? hant__error(HANT_EIO, "writing the SVG plot failed") : 0;
}
