/* SPDX-License-Identifier: MIT */
/* sensor.c: finds and reads RAPL counters and INA3221 power rails; a thread integrates sampled rail power. */
#include "sensor.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base.h"

#define SAMPLE_NS 5000000L /* 5 ms between rail readings */

/* A sysfs attribute holds one value and a newline; anything much longer is not one. */
#define ATTR_MAX 128

/* Reads up to ATTR_MAX bytes of a sysfs attribute into buf; *len of them.
 * More than ATTR_MAX bytes is an error too: text cut short could read as another number. */
static int read_attr(const char *path, char *buf, size_t *len) {
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return hant__error(HANT_EIO, "%s: cannot open: %s", path, strerror(errno));
  int rc = 0;
  for (;;) {
    ssize_t k = read(fd, buf + *len, ATTR_MAX + 1 - *len);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0) {
      rc = hant__error(HANT_EIO, "%s: cannot read: %s", path, strerror(errno));
      break;
    }
    if (k == 0)
      break;
    *len += (size_t)k;
    if (*len > ATTR_MAX) {
      rc = hant__error(HANT_ELIMIT, "%s: longer than %d bytes; expected one number", path, ATTR_MAX);
      break;
    }
  }
  close(fd);
  return rc;
}

static int read_double(const char *path, double *v) {
  char buf[ATTR_MAX + 1];
  size_t n;
  int rc = read_attr(path, buf, &n);
  return rc ? rc : hant_sensor_parse_reading(buf, n, path, v);
}

static void read_label(const char *path, char *buf, size_t n) {
  char text[ATTR_MAX + 1];
  size_t len;
  if (read_attr(path, text, &len))
    len = 0;
  hant_sensor_parse_label(text, len, buf, n);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Largest reading accepted, in magnitude: sysfs gives 64-bit integers at
 * most, and any two readings multiply to a finite number of watts. */
#define READING_LIMIT 9223372036854775808.0 /* 2^63 */

int hant_sensor_parse_reading(const char *text, size_t len, const char *path, double *value) {
  size_t a = 0, b = len;
  while (a < b && is_blank(text[a]))
    a++;
  while (b > a && is_blank(text[b - 1]))
    b--;
  /* A decimal number and nothing else: strtod alone would also take hex,
   * "inf", "nan" and trailing junk. */
  size_t i = a, digits = 0;
  if (i < b && (text[i] == '+' || text[i] == '-'))
    i++;
  for (; i < b && is_digit(text[i]); i++)
    digits++;
  if (i < b && text[i] == '.')
    for (i++; i < b && is_digit(text[i]); i++)
      digits++;
  if (digits && i < b && (text[i] == 'e' || text[i] == 'E')) {
    size_t e = i + 1, exp_digits = 0;
    if (e < b && (text[e] == '+' || text[e] == '-'))
      e++;
    for (; e < b && is_digit(text[e]); e++)
      exp_digits++;
    if (exp_digits)
      i = e;
  }
  char num[ATTR_MAX + 1];
  if (!digits || i != b || b - a > ATTR_MAX)
    return hant__error(HANT_EFORMAT, "%s: expected a decimal number, got '%.*s'", path, (int)(b - a > 40 ? 40 : b - a),
                       text + a);
  memcpy(num, text + a, b - a);
  num[b - a] = '\0';
  double v = strtod(num, NULL);
  if (!(fabs(v) < READING_LIMIT))
    return hant__error(HANT_ERANGE, "%s: %s is out of range; expected a magnitude below 2^63", path, num);
  *value = v;
  return 0;
}

void hant_sensor_parse_label(const char *text, size_t len, char *buf, size_t n) {
  if (!n)
    return;
  size_t o = 0;
  /* The label ends up in the library as the energy source and in messages: printable ASCII only. */
  for (size_t i = 0; i < len && text[i] != '\n' && text[i] != '\0' && o + 1 < n; i++)
    buf[o++] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
  buf[o] = '\0';
}

static bool is_input_rail(const char *label) { return strstr(label, "5V_IN") || strstr(label, "VDD_IN"); }

/* Legacy L4T driver: power in mW per rail, names in rail_name_N. */
static bool find_iio(hant_sensor *s) {
  glob_t g;
  bool found = false;
  if (glob("/sys/bus/i2c/drivers/ina3221x/*/iio:device*/in_power[0-9]_input", 0, NULL, &g))
    return false;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    double v;
    if (read_double(g.gl_pathv[i], &v))
      continue;
    char label_path[300], label[64];
    const char *digit = strstr(g.gl_pathv[i], "in_power") + 8;
    size_t dir = (size_t)(strrchr(g.gl_pathv[i], '/') - g.gl_pathv[i]);
    snprintf(label_path, sizeof(label_path), "%.*s/rail_name_%c", (int)dir, g.gl_pathv[i], *digit);
    read_label(label_path, label, sizeof(label));
    if (!found || is_input_rail(label)) {
      snprintf(s->power, sizeof(s->power), "%s", g.gl_pathv[i]);
      snprintf(s->source, sizeof(s->source), "ina3221 %s", label[0] ? label : "rail");
      found = true;
      if (is_input_rail(label))
        break;
    }
  }
  globfree(&g);
  return found;
}

/* Mainline hwmon driver: voltage in mV and current in mA per channel. */
static bool find_hwmon(hant_sensor *s) {
  glob_t g;
  bool found = false;
  if (glob("/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/curr[0-9]_input", 0, NULL, &g))
    return false;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    double v;
    if (read_double(g.gl_pathv[i], &v))
      continue;
    const char *digit = strstr(g.gl_pathv[i], "curr") + 4;
    size_t dir = (size_t)(strrchr(g.gl_pathv[i], '/') - g.gl_pathv[i]);
    char volt[256], label_path[300], label[64];
    snprintf(volt, sizeof(volt), "%.*s/in%c_input", (int)dir, g.gl_pathv[i], *digit);
    if (read_double(volt, &v))
      continue;
    snprintf(label_path, sizeof(label_path), "%.*s/in%c_label", (int)dir, g.gl_pathv[i], *digit);
    read_label(label_path, label, sizeof(label));
    if (!found || is_input_rail(label)) {
      snprintf(s->curr, sizeof(s->curr), "%s", g.gl_pathv[i]);
      snprintf(s->volt, sizeof(s->volt), "%s", volt);
      snprintf(s->source, sizeof(s->source), "ina3221 %s", label[0] ? label : "rail");
      found = true;
      if (is_input_rail(label))
        break;
    }
  }
  globfree(&g);
  return found;
}

int hant_sensor_init(hant_sensor *s) {
  memset(s, 0, sizeof(*s));
  hant_energy_start(&s->meter);
  if (s->meter.rapl) {
    s->kind = HANT_SENSOR_RAPL;
    snprintf(s->source, sizeof(s->source), "rapl");
    return 0;
  }
  if (find_iio(s) || find_hwmon(s)) {
    s->kind = HANT_SENSOR_INA3221;
    return 0;
  }
  s->kind = HANT_SENSOR_NONE;
  /* Not what a probe last failed on: every probe may fail. */
  return hant__error(HANT_ENOENT, "no power sensor is readable (RAPL, INA3221)");
}

int hant_sensor_read_watts(const hant_sensor *s, double *watts) {
  double a, b;
  int rc;
  if (s->kind != HANT_SENSOR_INA3221)
    return HANT_ENOTSUP;
  if (s->power[0]) {
    if ((rc = read_double(s->power, &a)))
      return rc;
    *watts = a * 1e-3;
    return 0;
  }
  if ((rc = read_double(s->volt, &a)) || (rc = read_double(s->curr, &b)))
    return rc;
  *watts = a * b * 1e-6;
  return 0;
}

typedef struct sampler {
  pthread_t thread;
  const hant_sensor *s;
  atomic_bool stop;
  double joules;
  int readings, failures;
} sampler;

/* Integrates power over time with the trapezoid rule. */
static void *sample_loop(void *arg) {
  sampler *sp = arg;
  double t0 = hant_now_s(), p0 = 0.0;
  bool have = hant_sensor_read_watts(sp->s, &p0) == 0;
  while (!atomic_load(&sp->stop)) {
    struct timespec ts = {0, SAMPLE_NS};
    nanosleep(&ts, NULL);
    double p = 0.0, t = hant_now_s();
    if (hant_sensor_read_watts(sp->s, &p)) {
      sp->failures++;
      continue;
    }
    if (have)
      sp->joules += 0.5 * (p + p0) * (t - t0);
    p0 = p, t0 = t, have = true;
    sp->readings++;
  }
  double t = hant_now_s();
  if (have)
    sp->joules += p0 * (t - t0);
  return NULL;
}

int hant_sensor_start(hant_sensor *s) {
  switch (s->kind) {
  case HANT_SENSOR_RAPL:
    hant_energy_start(&s->meter);
    return 0;
  case HANT_SENSOR_INA3221: {
    sampler *sp = calloc(1, sizeof(*sp));
    if (!sp)
      return HANT_ENOMEM;
    sp->s = s;
    atomic_init(&sp->stop, false);
    if (pthread_create(&sp->thread, NULL, sample_loop, sp)) {
      free(sp);
      return hant__error(HANT_EIO, "%s: cannot start the sampling thread", s->source);
    }
    s->sampler = sp;
    return 0;
  }
  default:
    return hant__error(HANT_ENOTSUP, "no power sensor is readable");
  }
}

int hant_sensor_stop(hant_sensor *s, double *joules) {
  *joules = 0.0;
  switch (s->kind) {
  case HANT_SENSOR_RAPL:
    *joules = hant_energy_joules(&s->meter);
    return 0;
  case HANT_SENSOR_INA3221: {
    sampler *sp = s->sampler;
    if (!sp)
      return hant__error(HANT_EINVAL, "%s: stop without start", s->source);
    atomic_store(&sp->stop, true);
    pthread_join(sp->thread, NULL);
    s->sampler = NULL;
    int readings = sp->readings;
    *joules = sp->joules;
    free(sp);
    return readings > 0 ? 0 : hant__error(HANT_EIO, "%s: no reading succeeded", s->source);
  }
  default:
    return hant__error(HANT_ENOTSUP, "no power sensor is readable");
  }
}

void hant_sensor_free(hant_sensor *s) {
  if (!s)
    return;
  if (s->sampler) {
    double j;
    hant_sensor_stop(s, &j);
  }
  memset(s, 0, sizeof(*s));
}
