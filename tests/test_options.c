/* SPDX-License-Identifier: MIT */
/* test_options.c: the command-line parser stores each kind of option, refuses bad input by name, writes the help. */
#include <stdbool.h>
#include <string.h>

#include "hant.h"
#include "test_util.h"

/* The destinations of one parse, reset to their defaults before each. */
static struct {
  bool quiet;
  const char *out;
  long epochs;
  double lr;
  hant_opt_list tags;
  hant_opt_list operands;
} v;

static const hant_opt opts[] = {
    HANT_OPT_FLAG("quiet", 'q', &v.quiet, "print nothing but errors"),
    HANT_OPT_STRING("out", 'o', &v.out, "FILE", "write to FILE"),
    HANT_OPT_INT("epochs", 'e', &v.epochs, 1, 100, "N", "train for N epochs"),
    HANT_OPT_DOUBLE("lr", 0, &v.lr, -1, 1, "RATE", "learning rate\n(negative: ascend)"),
    HANT_OPT_LIST("tag", 't', &v.tags, "TAG", "label the run; repeatable"),
    HANT_OPT_HELP("show this help"),
    HANT_OPT_END,
};

static const hant_opt_cmd cmd = {
    .name = "hant-test run",
    .usage = "usage: hant-test run [options] INPUT...\n\noptions:\n",
    .footer = "exit status: 0 on success\n",
    .opts = opts,
    .operands = &v.operands,
};

/* Parses the NULL-terminated arguments after the command's own name
 * against c, after resetting every destination to its default. */
static int parse_with(const hant_opt_cmd *c, int *next, const char *const *args) {
  char *argv[32] = {"hant-test"};
  int argc = 1;
  while (args[argc - 1])
    argv[argc] = (char *)args[argc - 1], argc++;
  hant_opt_list_free(&v.tags);
  hant_opt_list_free(&v.operands);
  v.quiet = false;
  v.out = "default.out";
  v.epochs = 10;
  v.lr = 0.5;
  hant_errmsg_clear();
  return hant_opt_parse(c, argc, argv, next);
}

#define PARSE(...) parse_with(&cmd, NULL, (const char *const[]){__VA_ARGS__, NULL})

static bool msg_is(const char *want) { return !strcmp(hant_errmsg(), want); }

static void test_kinds(void) {
  CHECK(PARSE("in.bin") == 0 && !v.quiet && !strcmp(v.out, "default.out") && v.epochs == 10 && v.lr == 0.5 &&
            v.tags.n == 0,
        "options not given keep their defaults");
  CHECK(PARSE("--quiet") == 0 && v.quiet, "--quiet sets its flag");
  CHECK(PARSE("--out", "model.bin") == 0 && !strcmp(v.out, "model.bin"), "--out VALUE stores the string");
  CHECK(PARSE("--epochs", "42") == 0 && v.epochs == 42, "--epochs VALUE stores the integer, got %ld", v.epochs);
  CHECK(PARSE("--lr", "0.125") == 0 && v.lr == 0.125, "--lr VALUE stores the number, got %g", v.lr);
  CHECK(PARSE("--tag", "a") == 0 && v.tags.n == 1 && !strcmp(v.tags.v[0], "a"), "--tag VALUE starts a list");
}

static void test_forms(void) {
  CHECK(PARSE("--out=model.bin", "--epochs=7", "--lr=-0.25") == 0 && !strcmp(v.out, "model.bin") && v.epochs == 7 &&
            v.lr == -0.25,
        "--name=value works for each kind");
  CHECK(PARSE("--out=") == 0 && !strcmp(v.out, ""), "--name= gives an empty value");
  CHECK(PARSE("--out=a=b") == 0 && !strcmp(v.out, "a=b"), "only the first '=' separates the value, got %s", v.out);
  CHECK(PARSE("-q", "-o", "x.bin", "-e", "3", "-t", "s") == 0 && v.quiet && !strcmp(v.out, "x.bin") && v.epochs == 3 &&
            v.tags.n == 1 && !strcmp(v.tags.v[0], "s"),
        "short options take their value from the next argument");
  CHECK(PARSE("--lr", "-0.5") == 0 && v.lr == -0.5, "a value may look like an option (negative numbers)");
  CHECK(PARSE("--out", "--quiet") == 0 && !strcmp(v.out, "--quiet") && !v.quiet,
        "a value option takes the next argument whatever it is");
}

static void test_repeatable(void) {
  CHECK(PARSE("--tag", "one", "-t", "two", "--tag=three") == 0 && v.tags.n == 3 && !strcmp(v.tags.v[0], "one") &&
            !strcmp(v.tags.v[1], "two") && !strcmp(v.tags.v[2], "three"),
        "a list keeps every value in order, got %d", v.tags.n);
  CHECK(PARSE("--epochs", "3", "--epochs", "4") == 0 && v.epochs == 4, "a repeated single option keeps the last value");
}

static void test_operands(void) {
  CHECK(PARSE("a", "--quiet", "b") == 0 && v.quiet && v.operands.n == 2 && !strcmp(v.operands.v[0], "a") &&
            !strcmp(v.operands.v[1], "b"),
        "operands are collected around options");
  CHECK(PARSE("-") == 0 && v.operands.n == 1 && !strcmp(v.operands.v[0], "-"), "'-' alone is an operand");
  CHECK(PARSE("--", "--quiet", "-q", "--") == 0 && !v.quiet && v.operands.n == 3 &&
            !strcmp(v.operands.v[0], "--quiet") && !strcmp(v.operands.v[2], "--"),
        "'--' ends the options: what follows, '--' included, is an operand");

  hant_opt_cmd none = cmd;
  none.operands = NULL;
  CHECK(parse_with(&none, NULL, (const char *const[]){"--quiet", "stray", NULL}) == HANT_EINVAL &&
            msg_is("unexpected argument 'stray'; see 'hant-test run --help'"),
        "a command without operands refuses one by name: %s", hant_errmsg());

  /* A program's own options before its command's name. */
  hant_opt_cmd prog = cmd;
  prog.operands = NULL;
  prog.stop_at_operand = true;
  int next = -1;
  CHECK(parse_with(&prog, &next, (const char *const[]){"-q", "build", "--epochs", "5", NULL}) == 0 && next == 2 &&
            v.quiet && v.epochs == 10,
        "stop_at_operand stops at the command's name, next %d", next);
  CHECK(parse_with(&prog, &next, (const char *const[]){"-q", "--", "--epochs", NULL}) == 0 && next == 3,
        "stop_at_operand: '--' leaves what follows to the command, next %d", next);
  CHECK(parse_with(&prog, &next, (const char *const[]){"-q", NULL}) == 0 && next == 2,
        "stop_at_operand without a command: next is argc, got %d", next);
  CHECK(parse_with(&cmd, &next, (const char *const[]){"a", "-q", "b", NULL}) == 0 && next == 4,
        "without stop_at_operand next is argc, got %d", next);
}

static void test_ranges(void) {
  CHECK(PARSE("--epochs", "1") == 0 && v.epochs == 1 && PARSE("--epochs", "100") == 0 && v.epochs == 100,
        "integer bounds are inclusive");
  CHECK(PARSE("--epochs", "0") == HANT_EINVAL && msg_is("--epochs expects an integer from 1 to 100, got '0'"),
        "below the range: %s", hant_errmsg());
  CHECK(PARSE("--epochs=101") == HANT_EINVAL && msg_is("--epochs expects an integer from 1 to 100, got '101'"),
        "above the range, named without '=value': %s", hant_errmsg());
  CHECK(PARSE("-e", "2.0") == HANT_EINVAL && msg_is("-e expects an integer from 1 to 100, got '2.0'"),
        "a count refuses a real, named as given: %s", hant_errmsg());
  CHECK(PARSE("--epochs", "1e1") == HANT_EINVAL, "a count refuses an exponent");
  CHECK(PARSE("--epochs", "") == HANT_EINVAL && msg_is("--epochs expects an integer from 1 to 100, got ''"),
        "an empty number is refused: %s", hant_errmsg());
  CHECK(PARSE("--epochs", "5x") == HANT_EINVAL, "trailing characters are refused");
  CHECK(PARSE("--epochs", "99999999999999999999999") == HANT_EINVAL, "an integer that overflows is refused");
  CHECK(PARSE("--lr", "-1") == 0 && v.lr == -1 && PARSE("--lr", "1e0") == 0 && v.lr == 1,
        "real bounds are inclusive and exponents are read");
  CHECK(PARSE("--lr", "1.5") == HANT_EINVAL && msg_is("--lr expects a number from -1 to 1, got '1.5'"),
        "a real out of range: %s", hant_errmsg());
  CHECK(PARSE("--lr", "nan") == HANT_EINVAL && msg_is("--lr expects a number from -1 to 1, got 'nan'"),
        "NaN is refused: %s", hant_errmsg());
  CHECK(PARSE("--lr", "inf") == HANT_EINVAL, "infinity is refused");
  CHECK(PARSE("--lr", "abc") == HANT_EINVAL, "a word is not a number");
  CHECK(PARSE("--lr", "") == HANT_EINVAL && msg_is("--lr expects a number from -1 to 1, got ''"),
        "an empty value is not zero: %s", hant_errmsg());
  CHECK(PARSE("--lr", "1e-400") == HANT_EINVAL, "a real that underflows is refused, not read as 0");

  double x = 0;
  CHECK(hant_opt_number("--seed", "123456789012", true, 0, 1e15, &x) == 0 && x == 123456789012.0,
        "hant_opt_number reads large whole numbers, got %.0f", x);
  CHECK(hant_opt_number("--seed", "99999999999999999999", true, 0, 1e20, &x) == HANT_EINVAL,
        "an integer past long long is refused even where the range would take it");
  CHECK(hant_opt_number("--seed", "", true, 0, 10, &x) == HANT_EINVAL, "an empty count is not zero");
  x = 7;
  CHECK(hant_opt_number("--scale", "0.5", false, 1, 2, &x) == HANT_EINVAL && x == 7 &&
            !strcmp(hant_errmsg(), "--scale expects a number from 1 to 2, got '0.5'"),
        "hant_opt_number leaves *out alone on error: %s", hant_errmsg());
}

static void test_errors(void) {
  CHECK(PARSE("--epochs") == HANT_EINVAL && msg_is("--epochs needs a value"), "a missing value: %s", hant_errmsg());
  CHECK(PARSE("-q", "-o") == HANT_EINVAL && msg_is("-o needs a value"), "a missing short value: %s", hant_errmsg());
  CHECK(PARSE("--bogus") == HANT_EINVAL && msg_is("unknown option '--bogus'; see 'hant-test run --help'"),
        "an unknown long option: %s", hant_errmsg());
  CHECK(PARSE("--bogus=3") == HANT_EINVAL && msg_is("unknown option '--bogus=3'; see 'hant-test run --help'"),
        "an unknown option is quoted as given: %s", hant_errmsg());
  CHECK(PARSE("-x") == HANT_EINVAL && msg_is("unknown option '-x'; see 'hant-test run --help'"),
        "an unknown short option: %s", hant_errmsg());
  CHECK(PARSE("-qe") == HANT_EINVAL, "short options do not combine");
  CHECK(PARSE("--quie") == HANT_EINVAL, "long names are not abbreviated");
  CHECK(PARSE("--quiet=yes") == HANT_EINVAL && msg_is("--quiet takes no value, got 'yes'"),
        "a flag given a value: %s", hant_errmsg());
  CHECK(PARSE("--help=yes") == HANT_EINVAL && msg_is("unknown option '--help=yes'; see 'hant-test run --help'"),
        "--help takes no value: %s", hant_errmsg());
  CHECK(PARSE("--out", "kept.bin", "--epochs", "0", "--quiet") == HANT_EINVAL && !strcmp(v.out, "kept.bin") &&
            !v.quiet,
        "values stored before an error stay; the parse stops at it");
  int next = -1;
  CHECK(parse_with(&cmd, &next, (const char *const[]){"a", "--bogus", "b", NULL}) == HANT_EINVAL && next == 2,
        "next names the argument that failed, got %d", next);
}

static void test_help_asked(void) {
  CHECK(PARSE("--help") == HANT_OPT_HELP_ASKED && PARSE("-h") == HANT_OPT_HELP_ASKED, "--help and -h ask for help");
  CHECK(PARSE("--bogus-later", "--help") == HANT_EINVAL, "an error before --help is reported first");
  CHECK(PARSE("--help", "--bogus") == HANT_OPT_HELP_ASKED, "--help stops the parse before later errors");

  static const hant_opt bare[] = {HANT_OPT_END};
  hant_opt_cmd unlisted = {.name = "bare", .opts = bare};
  CHECK(parse_with(&unlisted, NULL, (const char *const[]){"--help", NULL}) == HANT_OPT_HELP_ASKED,
        "--help is parsed even when the table does not list it");
}

/* The help as a string, for exact comparison. */
static char *help_text(const hant_opt_cmd *c) {
  char *s = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&s, &n);
  HANT_ASSERT(f);
  hant_opt_help(c, f);
  fclose(f);
  return s;
}

static void test_help_text(void) {
  char *s = help_text(&cmd);
  const char *want = "usage: hant-test run [options] INPUT...\n\noptions:\n"
                     "  -q, --quiet           print nothing but errors\n"
                     "  -o, --out FILE        write to FILE\n"
                     "  -e, --epochs N        train for N epochs\n"
                     "  --lr RATE             learning rate\n"
                     "                        (negative: ascend)\n"
                     "  -t, --tag TAG         label the run; repeatable\n"
                     "  --help                show this help\n"
                     "exit status: 0 on success\n";
  CHECK(s && !strcmp(s, want), "the help lists every option at column 24:\n%s", s);
  free(s);

  static bool flag;
  static const char *str;
  static const hant_opt narrow_opts[] = {
      HANT_OPT_FLAG("a-rather-long-option-name", 0, &flag, "two spaces\nthen the column"),
      HANT_OPT_STRING("hidden", 0, &str, "X", NULL),
      HANT_OPT_FLAG("x", 'x', &flag, "short"),
      HANT_OPT_END,
  };
  hant_opt_cmd narrow = {.name = "n", .column = 12, .opts = narrow_opts};
  s = help_text(&narrow);
  want = "  --a-rather-long-option-name  two spaces\n"
         "            then the column\n"
         "  -x, --x   short\n";
  CHECK(s && !strcmp(s, want), "a custom column, a head past it, and an unlisted option:\n%s", s);
  free(s);
  CHECK(parse_with(&narrow, NULL, (const char *const[]){"--hidden", "h", NULL}) == 0 && !strcmp(str, "h"),
        "an option left out of the help is still parsed");
}

int main(void) {
  test_kinds();
  test_forms();
  test_repeatable();
  test_operands();
  test_ranges();
  test_errors();
  test_help_asked();
  test_help_text();
  hant_opt_list_free(&v.tags);
  hant_opt_list_free(&v.operands);
  return test_summary("options");
}
