/* SPDX-License-Identifier: MIT */
/* options.h: the command-line parser of hant's programs: declarative option tables, checked values and generated help. */
#ifndef HANT_OPTIONS_H
#define HANT_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

/* What an option's value is, and where the parser stores it. */
typedef enum hant_opt_kind {
  HANT_OPT_KIND_FLAG,   /* no value: sets a bool to true */
  HANT_OPT_KIND_STRING, /* a value: sets a const char * (pointing into argv) */
  HANT_OPT_KIND_INT,    /* a whole decimal number within [lo, hi]: sets a long */
  HANT_OPT_KIND_DOUBLE, /* a finite number within [lo, hi]: sets a double */
  HANT_OPT_KIND_LIST,   /* a value, repeatable: appended to a hant_opt_list */
  HANT_OPT_KIND_HELP,   /* --help: listed in the help text; parsed whether listed or not */
  HANT_OPT_KIND_COUNT
} hant_opt_kind;

/* The values of a repeatable option, or a command's operands, in the
 * order given. The strings point into argv; the array is malloc'd by the
 * parser and released with hant_opt_list_free. Zero-initialise it. */
typedef struct hant_opt_list {
  const char **v;
  int n;
} hant_opt_list;

void hant_opt_list_free(hant_opt_list *l);

/* One option. Write tables with the HANT_OPT_* macros below, which check
 * the type of each destination, and end them with HANT_OPT_END. */
typedef struct hant_opt {
  const char *name; /* long name without the dashes: "epochs" for --epochs */
  char short_name;  /* 'q' for -q, or 0 */
  hant_opt_kind kind;
  union {
    bool *flag;
    const char **string;
    long *integer;
    double *number;
    hant_opt_list *list;
  } to;
  double lo, hi;    /* INT and DOUBLE: the values accepted, inclusive */
  const char *arg;  /* the value's name in the help ("N", "FILE"), or NULL */
  const char *help; /* the help text; lines after the first continue in the
                       description column. NULL leaves the option out of
                       the help (it is still parsed) */
} hant_opt;

/* Table entries: long name, short name (or 0), destination of the kind's
 * type, for numbers the range, for values the value's name in the help,
 * then the help text. A destination of the wrong type does not compile. */
#define HANT_OPT_FLAG(name, s, dest, help) {(name), (s), HANT_OPT_KIND_FLAG, {.flag = (dest)}, 0, 0, NULL, (help)}
#define HANT_OPT_STRING(name, s, dest, arg, help)                                                                      \
  {(name), (s), HANT_OPT_KIND_STRING, {.string = (dest)}, 0, 0, (arg), (help)}
#define HANT_OPT_INT(name, s, dest, lo, hi, arg, help)                                                                 \
  {(name), (s), HANT_OPT_KIND_INT, {.integer = (dest)}, (lo), (hi), (arg), (help)}
#define HANT_OPT_DOUBLE(name, s, dest, lo, hi, arg, help)                                                              \
  {(name), (s), HANT_OPT_KIND_DOUBLE, {.number = (dest)}, (lo), (hi), (arg), (help)}
#define HANT_OPT_LIST(name, s, dest, arg, help) {(name), (s), HANT_OPT_KIND_LIST, {.list = (dest)}, 0, 0, (arg), (help)}
#define HANT_OPT_HELP(help) {"help", 0, HANT_OPT_KIND_HELP, {.flag = NULL}, 0, 0, NULL, (help)}
#define HANT_OPT_END {NULL, 0, HANT_OPT_KIND_COUNT, {.flag = NULL}, 0, 0, NULL, NULL}

/* A command: its options, its operands and its help text. */
typedef struct hant_opt_cmd {
  const char *name;        /* "hant-distill teacher": named in the hint of usage errors */
  const char *usage;       /* help text before the options: synopsis and description */
  const char *footer;      /* help text after the options (exit status), or NULL */
  int column;              /* where descriptions start in the option list (0: 24) */
  const hant_opt *opts;    /* ends with HANT_OPT_END */
  hant_opt_list *operands; /* receives the arguments that are not options;
                              NULL when the command takes none */
  bool stop_at_operand;    /* a program's own options before its command:
                              stop at the first operand and leave it and
                              everything after it to the command */
} hant_opt_cmd;

/* hant_opt_parse's answer when --help or -h was given. */
#define HANT_OPT_HELP_ASKED 1

/* Parses argv[1] to argv[argc - 1] (argv[0] is the command's own name)
 * against cmd, storing each value where its option says; options not
 * given keep what their destinations held, so initialise them to the
 * defaults.
 *
 * Accepted forms: --name VALUE, --name=VALUE, -s VALUE for options with a
 * value; --name and -s for flags. "--" ends the options: everything after
 * it is an operand. "-" alone is an operand (standard input or output). A
 * value option takes the next argument whatever it looks like, so
 * negative numbers need no special form.
 *
 * Returns 0 when the command should run, HANT_OPT_HELP_ASKED as soon as
 * --help or -h is met (print hant_opt_help on stdout and exit 0),
 * HANT_EINVAL with a message (hant_errmsg) that names the option and the
 * bad value: an unknown option, a missing value, a value given to a flag,
 * a number out of range, or an operand the command does not take; or
 * HANT_ENOMEM when a list cannot grow. Values stored before an error stay
 * stored, and lists keep what they collected: free them either way.
 *
 * *next (may be NULL) receives the index of the first argument not
 * parsed: with stop_at_operand the command's name (argc when none), else
 * argc. */
int hant_opt_parse(const hant_opt_cmd *cmd, int argc, char **argv, int *next);

/* Writes the help text: cmd->usage, one entry per listed option
 * ("  -s, --name ARG" then the description at cmd->column), cmd->footer. */
void hant_opt_help(const hant_opt_cmd *cmd, FILE *f);

/* The one number parser of the command line: reads s, the value of option
 * `opt` ("--epochs"), as a whole decimal number (whole) or any finite
 * number, and checks lo <= value <= hi. Returns 0 and the value in *out,
 * or HANT_EINVAL with a message naming the option, the range and s. */
int hant_opt_number(const char *opt, const char *s, bool whole, double lo, double hi, double *out);

#endif
