/* SPDX-License-Identifier: MIT */
/* main.c: hantd's command line: options and the configuration file, then the daemon runs (daemon.c). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "hant.h"
#include "log.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hantd [--db LIBRARY.db] [--socket PATH] [--state-dir DIR] [--config FILE] [--foreground]\n"
          "\n"
          "Serves hant's transformation requests (newline-delimited JSON-RPC 2.0) on a Unix\n"
          "socket: transform, pareto, solve, devices, library, status, version, jobs.*.\n"
          "See hantd(8) and docs/protocol.md.\n"
          "\n"
          "  --db FILE        the library (default $XDG_DATA_HOME/hant/library.db); created\n"
          "                   and migrated if missing: an empty library still serves solve,\n"
          "                   status, version and devices\n"
          "  --socket PATH    (default $XDG_RUNTIME_DIR/hant/hantd.sock, or\n"
          "                   /run/hantd/hantd.sock without XDG_RUNTIME_DIR)\n"
          "  --state-dir DIR  where each peer's files go (DIR/users/UID; default\n"
          "                   $STATE_DIRECTORY, /var/lib/hantd as root, else\n"
          "                   $XDG_STATE_HOME/hant); files peers name are written and read\n"
          "                   only there and in the configured output_dirs and model_dirs\n"
          "  --config FILE    'key = value' settings; see hantd(8)\n"
          "  --foreground     stay in the foreground (default: detach once serving)\n"
          "  --log-level L    error, warning, notice, info (default) or debug\n"
          "  --help           show this help and exit\n"
          "  --version        print the version and exit\n"
          "\n"
          "Signals: SIGTERM/SIGINT stop cleanly (exit 0); SIGHUP reloads the library and\n"
          "device profiles without dropping connections.\n"
          "Exit status: 0 stopped cleanly, 1 failed to start or stop, 2 usage error.\n");
}

/* Makes a relative path absolute against the working directory: the
 * daemon leaves it when it detaches. */
static void absolute(char *path, size_t n) {
  if (!path[0] || path[0] == '/')
    return;
  char cwd[1024], tmp[2100];
  if (!getcwd(cwd, sizeof(cwd)))
    return;
  snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path);
  if (strlen(tmp) < n)
    snprintf(path, n, "%s", tmp);
}

int main(int argc, char **argv) {
  const char *config = NULL, *db = NULL, *sock = NULL, *level = NULL, *state = NULL;
  bool foreground = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--version")) {
      printf("hantd %s\n", hant_version());
      return 0;
    } else if (!strcmp(a, "--foreground") || !strcmp(a, "-f")) {
      foreground = true;
    } else if (!strcmp(a, "--db") && has) {
      db = argv[++i];
    } else if (!strcmp(a, "--socket") && has) {
      sock = argv[++i];
    } else if (!strcmp(a, "--state-dir") && has) {
      state = argv[++i];
    } else if (!strcmp(a, "--config") && has) {
      config = argv[++i];
    } else if (!strcmp(a, "--log-level") && has) {
      level = argv[++i];
    } else {
      fprintf(stderr, "hantd: %s '%s'; see 'hantd --help'\n",
              a[0] == '-' && !has ? "missing argument or unknown option" : "unknown argument", a);
      return 2;
    }
  }
  hantd_config cfg;
  hantd_config_default(&cfg);
  if (config && hantd_config_load(&cfg, config))
    return 2;
  if (db)
    snprintf(cfg.db, sizeof(cfg.db), "%s", db);
  if (sock)
    snprintf(cfg.socket, sizeof(cfg.socket), "%s", sock);
  if (state)
    snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", state);
  if (level && (cfg.log_level = hantd_log_level_from_name(level)) < 0) {
    fprintf(stderr, "hantd: --log-level: expected error, warning, notice, info or debug, got '%s'\n", level);
    return 2;
  }
  cfg.foreground = foreground;
  hantd_config_paths(&cfg);
  absolute(cfg.db, sizeof(cfg.db));
  absolute(cfg.socket, sizeof(cfg.socket));
  absolute(cfg.devices_dir, sizeof(cfg.devices_dir));
  absolute(cfg.state_dir, sizeof(cfg.state_dir));
  return hantd_daemon_run(&cfg);
}
