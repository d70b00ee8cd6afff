/* SPDX-License-Identifier: MIT */
/* test_svgplot.c: report plots are well-formed SVG with one marker per chosen point, escaped text, no NaNs. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "svgplot.h"
#include "test_util.h"

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++)
    n++;
  return n;
}

int main(void) {
  hant_plot_point front[] = {{0.5, 0.80, NULL, false}, {0.2, 0.70, NULL, false}, {1.0, 0.90, NULL, false},
                             {NAN, 0.5, NULL, false}, {2.0, 0.91, NULL, false}};
  hant_plot_point chosen[] = {{0.5, 0.80, "2W <nano> & co", false}, {1.0, 0.90, "4W", false}, {INFINITY, 1, "bad", false}};
  hant_plot_point teacher = {2.0, 0.93, "teacher", false};
  for (int lg = 0; lg < 2; lg++) {
    hant_plot p = {.title = "jetson-nano: accuracy vs energy", .xlabel = "energy per inference (mJ)",
                   .ylabel = "accuracy", .front = front, .n_front = 5, .chosen = chosen, .n_chosen = 3,
                   .reference = &teacher, .log_x = lg};
    char path[] = "/tmp/hant-plot-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w+");
    CHECK(hant_plot_svg(&p, f) == 0, "plot failed: %s", hant_errmsg());
    fflush(f);
    long len = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)len + 1);
    CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len, "read back");
    fclose(f);
    CHECK(count(buf, "<circle class=\"chosen\"") == 2, "expected 2 chosen markers (one is infinite), found %d",
          count(buf, "<circle class=\"chosen\""));
    CHECK(count(buf, "class=\"reference\"") == 1, "expected one teacher marker");
    CHECK(strstr(buf, "2W &lt;nano&gt; &amp; co") != NULL, "labels are not XML-escaped");
    CHECK(!strstr(buf, "\"nan") && !strstr(buf, "\"-nan") && !strstr(buf, "\"inf") && !strstr(buf, "\"-inf") &&
              !strstr(buf, ">nan") && !strstr(buf, ">inf"),
          "non-finite numbers leaked into the SVG");
    /* An independent XML parser reads it. */
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "python3 -c \"import sys,xml.etree.ElementTree as E; E.parse(sys.argv[1])\" %s 2>/dev/null", path);
    CHECK(system(cmd) == 0, "the SVG (log_x=%d) is not well-formed XML", lg);
    free(buf);
    unlink(path);
  }
  return test_summary("test_svgplot");
}
