/* SPDX-License-Identifier: MIT */
/* test_formats.c: operator lists and cost tables round-trip, and malformed ones are refused naming the line and the field. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costtable.h"
#include "hant.h"
#include "opsfile.h"
#include "test_util.h"

static void ops_refused(const char *text, const char *want) {
  hant_ops_entry *e = NULL;
  int n = 0;
  int rc = hant_opsfile_parse(text, strlen(text), "ops.txt", &e, &n);
  CHECK(rc == HANT_EFORMAT && !e, "accepted: %s", text);
  CHECK(strstr(hant_errmsg(), want), "message '%s' lacks '%s'", hant_errmsg(), want);
  free(e);
}

static void test_ops(void) {
  char *buf;
  size_t len;
  FILE *f = open_memstream(&buf, &len);
  hant_ops_entry in[3] = {{.id = 7, .c = 1, .h = 28, .w = 28}, {.id = 9, .c = 16, .h = 14, .w = 14},
                          {.id = 12, .c = 64, .h = 7, .w = 7}};
  snprintf(in[0].block, sizeof(in[0].block), "conv 8 k=3 s=2 bn=1");
  snprintf(in[1].block, sizeof(in[1].block), "dws 32 k=5 s=2");
  snprintf(in[2].block, sizeof(in[2].block), "linear 10");
  CHECK(hant_opsfile_write_header(f, "exported for a test\nsecond line") == 0, "header");
  for (int i = 0; i < 3; i++)
    CHECK(hant_opsfile_write(f, &in[i]) == 0, "write");
  fclose(f);
  hant_ops_entry *out;
  int n;
  CHECK(hant_opsfile_parse(buf, len, "ops.txt", &out, &n) == 0 && n == 3, "round trip: %s", hant_errmsg());
  for (int i = 0; i < n && i < 3; i++)
    CHECK(out[i].id == in[i].id && out[i].c == in[i].c && out[i].h == in[i].h && out[i].w == in[i].w &&
              !strcmp(out[i].block, in[i].block),
          "entry %d differs", i);
  if (n == 3)
    CHECK(out[0].line == 5 && out[2].line == 7, "line numbers %d %d", out[0].line, out[2].line);
  free(out);
  free(buf);

  hant_ops_entry bad = {.id = 1, .c = 1, .h = 1, .w = 1};
  snprintf(bad.block, sizeof(bad.block), "conv 8; conv 9");
  CHECK(hant_opsfile_write(stdout, &bad) == HANT_EINVAL, "a two-line block written");

  ops_refused("hant-ops 2\n1 1x28x28 conv 8\n", "ops.txt:1: expected the first line 'hant-ops 1'");
  ops_refused("hant-ops 1\n# c\nx 1x28x28 conv 8\n", "ops.txt:3: id: expected a positive integer");
  ops_refused("hant-ops 1\n1 1x28 conv 8\n", "ops.txt:2: input: expected CxHxW");
  ops_refused("hant-ops 1\n1 1x28x28\n", "ops.txt:2:");
  ops_refused("hant-ops 1\n1 1x28x28 conv 8\n\n2 1x28x28 frob 8\n", "ops.txt:4: block:");
  ops_refused("hant-ops 1\n1 1x28x28 conv 8\n2 1x28x28 conv 8\n1 1x28x28 conv 16\n",
              "ops.txt:4: id: 1 already listed at line 2");
  ops_refused("hant-ops 1\n1 1x28x28 conv 8; conv 9\n", "ops.txt:2: block:");
  ops_refused("", "ops.txt: empty");
}

static void ct_refused(const char *body, const char *want) {
  char text[2048];
  snprintf(text, sizeof(text), "%s\n# tool: test\n%s", HANT_COSTTABLE_MAGIC, body);
  hant_costtable t;
  int rc = hant_costtable_parse(text, strlen(text), "costs.csv", &t);
  CHECK(rc == HANT_EFORMAT && !t.rows, "accepted: %s", body);
  CHECK(strstr(hant_errmsg(), want), "message '%s' lacks '%s'", hant_errmsg(), want);
}

static void test_costtable(void) {
  char *buf;
  size_t len;
  FILE *f = open_memstream(&buf, &len);
  hant_costtable meta = {.threads = 4};
  snprintf(meta.tool, sizeof(meta.tool), "hant-bench 0.1.0");
  snprintf(meta.cpu, sizeof(meta.cpu), "ARMv8 Processor rev 1 (v8l)");
  snprintf(meta.power_mode, sizeof(meta.power_mode), "10W");
  hant_costtable_row rows[3] = {
      {.id = 1, .batch = 1, .latency_ms = 0.5321, .latency_spread = 0.041, .runs = 41, .energy_mj = 1.25},
      {.id = 2, .batch = 1, .latency_ms = 2.5, .latency_spread = -1, .runs = 0, .energy_mj = -1},
      {.id = 1, .batch = 8, .latency_ms = 3.0, .latency_spread = 0.02, .runs = 15, .energy_mj = 7.5}};
  snprintf(rows[0].energy_source, sizeof(rows[0].energy_source), "ina3221 POM_5V_IN");
  snprintf(rows[2].energy_source, sizeof(rows[2].energy_source), "ina3221 POM_5V_IN");
  for (int i = 0; i < 3; i++)
    snprintf(rows[i].power_mode, sizeof(rows[i].power_mode), "10W");
  CHECK(hant_costtable_write_header(f, &meta) == 0, "header");
  for (int i = 0; i < 3; i++)
    CHECK(hant_costtable_write_row(f, &rows[i]) == 0, "row");
  fclose(f);
  hant_costtable t;
  CHECK(hant_costtable_parse(buf, len, "costs.csv", &t) == 0 && t.n == 3, "round trip: %s", hant_errmsg());
  CHECK(t.threads == 4 && !strcmp(t.cpu, meta.cpu) && !strcmp(t.power_mode, "10W"), "metadata");
  for (int i = 0; i < t.n && i < 3; i++)
    CHECK(t.rows[i].id == rows[i].id && t.rows[i].batch == rows[i].batch &&
              t_near(t.rows[i].latency_ms, rows[i].latency_ms, 0, 1e-5) &&
              t_near(t.rows[i].energy_mj, rows[i].energy_mj, 0, 1e-5) && t.rows[i].runs == rows[i].runs &&
              !strcmp(t.rows[i].energy_source, rows[i].energy_source) && !strcmp(t.rows[i].power_mode, "10W"),
          "row %d differs", i);
  hant_costtable_free(&t);
  free(buf);

  /* Columns in another order, optional ones absent. */
  const char *min = "# hant cost table 1\nlatency_ms,id,batch\n0.25,3,1\n";
  CHECK(hant_costtable_parse(min, strlen(min), "min.csv", &t) == 0 && t.n == 1 && t.rows[0].id == 3 &&
            t.rows[0].energy_mj < 0 && t.rows[0].latency_spread < 0,
        "minimal table: %s", hant_errmsg());
  hant_costtable_free(&t);

  /* Line numbers count the magic and the metadata line added by ct_refused. */
  ct_refused("id,batch,latency_ms\n1,1,abc\n", "costs.csv:4: latency_ms: expected a positive number of milliseconds");
  ct_refused("id,batch,latency_ms\n1,1,0.5\n2,1,-1\n", "costs.csv:5: latency_ms:");
  ct_refused("id,batch,latency_ms,energy_mj,energy_source\n1,1,0.5,-2,rapl\n", "costs.csv:4: energy_mj:");
  ct_refused("id,batch,latency_ms,energy_mj\n1,1,0.5,2\n", "costs.csv:4: energy_source: required");
  ct_refused("id,batch\n1,1\n", "costs.csv:3: header: required column 'latency_ms' is missing");
  ct_refused("id,batch,latency_ms,watts\n1,1,0.5,3\n", "costs.csv:3: header: unknown column 'watts'");
  ct_refused("id,batch,latency_ms\n1,1\n", "costs.csv:4: expected 3 fields as in the header, got 2");
  ct_refused("id,batch,latency_ms\n0,1,0.5\n", "costs.csv:4: id: expected a positive integer");
  ct_refused("id,batch,latency_ms\n1,0,0.5\n", "costs.csv:4: batch:");
  ct_refused("id,batch,latency_ms\n1,1,0.5\n1,1,0.6\n", "costs.csv:5: id: 1 (batch 1, power mode '') already given at line 4");
  ct_refused("id,batch,latency_ms,power_mode\n1,1,0.5,10 W\n", "costs.csv:4: power_mode:");
  ct_refused("id,batch,latency_ms\n1,1,nan\n", "costs.csv:4: latency_ms:");
  ct_refused("", "costs.csv:2: no header row");
  const char *nomagic = "id,batch,latency_ms\n1,1,0.5\n";
  CHECK(hant_costtable_parse(nomagic, strlen(nomagic), "costs.csv", &t) == HANT_EFORMAT &&
            strstr(hant_errmsg(), "costs.csv:1: expected the first line"),
        "missing magic: %s", hant_errmsg());
}

/* Both line formats share one splitter: CR-LF endings are read, and an
 * over-long line or a NUL byte is refused with the file and line. */
static void test_lines(void) {
  static const char text[] = "one\r\ntwo\n\nthree";
  hant_lines r;
  char buf[8];
  hant_lines_init(&r, "t.txt", text, sizeof(text) - 1, 7);
  int got = 0;
  const char *want[] = {"one", "two", "", "three"};
  for (int rc; (rc = hant_lines_next(&r, buf)) == 1; got++)
    CHECK(got < 4 && !strcmp(buf, want[got]) && r.lineno == got + 1, "line %d is '%s'", got + 1, buf);
  CHECK(got == 4, "four lines, got %d", got);
  hant_lines_init(&r, "t.txt", "ok\ntoo long here\n", 17, 7);
  CHECK(hant_lines_next(&r, buf) == 1 && hant_lines_next(&r, buf) == HANT_ELIMIT &&
            strstr(hant_errmsg(), "t.txt:2: line longer than 7"),
        "a long line is refused: %s", hant_errmsg());
  hant_lines_init(&r, "t.txt", "a\0b\n", 4, 7);
  CHECK(hant_lines_next(&r, buf) == HANT_EFORMAT && strstr(hant_errmsg(), "t.txt:1: NUL byte"),
        "a NUL byte is refused: %s", hant_errmsg());
  char ops[1200];
  memset(ops, 'x', sizeof(ops));
  int n = snprintf(ops, sizeof(ops), "%s\n", HANT_OPSFILE_MAGIC);
  ops[n] = 'x'; /* the magic line, then 1,100-odd x's on line 2 */
  ops[sizeof(ops) - 1] = '\0';
  hant_ops_entry *e = NULL;
  int ne = 0;
  CHECK(hant_opsfile_parse(ops, strlen(ops), "ops.txt", &e, &ne) == HANT_ELIMIT && !e &&
            strstr(hant_errmsg(), "ops.txt:2: line longer than"),
        "an operator list with a long line is refused: %s", hant_errmsg());
}

int main(void) {
  test_ops();
  test_costtable();
  test_lines();
  return test_summary("formats");
}
