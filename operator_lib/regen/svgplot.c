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

static void extend(axes *a, const hant_plot_point *p, int n, bool *any) {
  for (int i = 0; i < n; i++) {
    if (!usable(a, &p[i]))
      continue;
    double x = a->log_x ? log10(p[i].x) : p[i].x;
    if (!*any) {
      a->x0 = a->x1 = x;
      a->y0 = a->y1 = p[i].y;
      *any = true;
    }
    a->x0 = fmin(a->x0, x), a->x1 = fmax(a->x1, x);
    a->y0 = fmin(a->y0, p[i].y), a->y1 = fmax(a->y1, p[i].y);
  }
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
  axes a = {.left = 64, .right = 16, .top = 36, .bottom = 48, .w = p->width ? p->width : 640,
            .h = p->height ? p->height : 400, .log_x = p->log_x};
  bool any = false;
  extend(&a, p->front, p->n_front, &any);
  extend(&a, p->chosen, p->n_chosen, &any);
  if (p->reference)
    extend(&a, p->reference, 1, &any);
  if (!any)
    a.x0 = 0, a.x1 = 1, a.y0 = 0, a.y1 = 1;
  /* Pad the ranges so points do not sit on the frame. */
  double px = (a.x1 - a.x0) * 0.05, py = (a.y1 - a.y0) * 0.08;
  if (px == 0)
    px = a.log_x ? 0.1 : fabs(a.x0) * 0.1 + 1e-3;
  if (py == 0)
    py = fabs(a.y0) * 0.05 + 1e-3;
  a.x0 -= px, a.x1 += px, a.y0 -= py, a.y1 += py;

  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n",
          a.w, a.h, a.w, a.h);
  fputs("<style>.front{fill:none;stroke:#1f77b4;stroke-width:1.5}.chosen{fill:#d62728;stroke:#000}"
        ".reference,.legend-reference{fill:#2ca02c;stroke:#000}.legend-chosen{fill:#d62728;stroke:#000}.grid{stroke:#ddd}.axis{stroke:#333}</style>\n",
        f);
  fputs("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n", f);
  fprintf(f, "<text x=\"%d\" y=\"22\" font-size=\"14\">", a.left);
  xml_text(f, p->title);
  fputs("</text>\n", f);
  /* Grid and ticks. */
  double ys = nice_step(a.y1 - a.y0, 5);
  for (double y = ceil(a.y0 / ys) * ys; y <= a.y1; y += ys)
    fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%d\" y=\"%.1f\" "
               "text-anchor=\"end\">%.4g</text>\n",
            a.left, a.w - a.right, ty(&a, y), ty(&a, y), a.left - 6, ty(&a, y) + 4, y);
  if (a.log_x) {
    for (double e = floor(a.x0); e <= a.x1; e += 1)
      for (int m = 1; m <= 9; m++) {
        double v = log10(m) + e;
        if (v < a.x0 || v > a.x1)
          continue;
        double X = a.left + (v - a.x0) / (a.x1 - a.x0) * (a.w - a.left - a.right);
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
              tx(&a, x), tx(&a, x), a.top, a.h - a.bottom, tx(&a, x), a.h - a.bottom + 16, x);
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
    fputs("<path class=\"front\" d=\"", f);
    for (int i = 0; i < n; i++) {
      if (i == 0)
        fprintf(f, "M%.1f %.1f", tx(&a, s[i].x), ty(&a, s[i].y));
      else
        fprintf(f, " H%.1f V%.1f", tx(&a, s[i].x), ty(&a, s[i].y));
    }
    fputs("\"/>\n", f);
    free(s);
  }
  for (int i = 0; i < p->n_chosen; i++) {
    if (!usable(&a, &p->chosen[i]))
      continue;
    fprintf(f, "<circle class=\"chosen\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>", tx(&a, p->chosen[i].x),
            ty(&a, p->chosen[i].y));
    xml_text(f, p->chosen[i].label);
    fputs("</title></circle>\n", f);
  }
  if (p->reference && usable(&a, p->reference)) {
    fprintf(f, "<rect class=\"reference\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\"><title>",
            tx(&a, p->reference->x) - 5, ty(&a, p->reference->y) - 5);
    xml_text(f, p->reference->label);
    fputs("</title></rect>\n", f);
  }
  fprintf(f, "<g transform=\"translate(%d %d)\"><path class=\"front\" d=\"M0 0 H20\"/><text x=\"26\" y=\"4\">Pareto "
             "front</text><circle class=\"legend-chosen\" cx=\"120\" cy=\"0\" r=\"5\"/><text x=\"130\" y=\"4\">chosen</text>"
             "<rect class=\"legend-reference\" x=\"185\" y=\"-5\" width=\"10\" height=\"10\"/><text x=\"200\" y=\"4\">teacher"
             "</text></g>\n",
          a.w - a.right - 260, a.top - 14);
  fputs("</svg>\n", f);
  return ferror(f) ? hant__error(HANT_EIO, "writing the SVG plot failed") : 0;
}
