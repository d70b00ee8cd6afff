/* SPDX-License-Identifier: MIT */
/* sensor.h: power sensors read around a measurement: RAPL energy counters and the Jetson INA3221 rails. */
#ifndef HANT_SENSOR_H
#define HANT_SENSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "energy.h"

typedef enum hant_sensor_kind {
  HANT_SENSOR_NONE,
  HANT_SENSOR_RAPL,    /* /sys/class/powercap/intel-rapl:N/energy_uj (energy.h) */
  HANT_SENSOR_INA3221, /* Jetson board rails, sampled by a thread */
  HANT_SENSOR_COUNT
} hant_sensor_kind;

/* An open sensor. The caller allocates it (init/free). */
typedef struct hant_sensor {
  hant_sensor_kind kind;
  char source[96];   /* recorded as the energy source: "rapl", "ina3221 POM_5V_IN" */
  char power[256];   /* INA3221: file giving power in mW, or "" */
  char volt[256];    /* INA3221 hwmon: voltage in mV and current in mA */
  char curr[256];
  hant_energy_meter meter; /* RAPL */
  void *sampler;     /* INA3221: the sampling thread's state while started */
} hant_sensor;

/* Finds a readable sensor: RAPL first, then INA3221: the legacy L4T
 * driver's /sys/bus/i2c/drivers/ina3221x/DEV/iio:deviceK/in_powerN_input
 * (mW, rail names in rail_name_N), or the mainline hwmon driver's
 * /sys/bus/i2c/drivers/ina3221/DEV/hwmon/hwmonK/inN_input (mV) and
 * currN_input (mA). Of the INA3221 rails it takes the board input
 * (POM_5V_IN or VDD_IN) or, without one, the first rail. Returns 0, or
 * HANT_ENOENT when none is readable (kind is then HANT_SENSOR_NONE). */
int hant_sensor_init(hant_sensor *s);
void hant_sensor_free(hant_sensor *s);

/* Starts an interval: reads the RAPL counter, or starts a thread that
 * samples the rail every 5 ms. */
int hant_sensor_start(hant_sensor *s);
/* Ends the interval and gives the energy in joules since start. */
int hant_sensor_stop(hant_sensor *s, double *joules);

/* One reading of the INA3221 rail in watts (for tests and tools): a
 * finite number. Errors name the file that could not be read or parsed. */
int hant_sensor_read_watts(const hant_sensor *s, double *watts);

/* Parses the text of one sysfs reading (len bytes, need not end in a NUL),
 * such as in_power0_input: a decimal number (digits with an optional sign,
 * fraction and exponent; no hex, "inf" or "nan") with blanks and newlines
 * around it and nothing else, below 2^63 in magnitude, so that readings
 * and their products are finite. path names the file in messages.
 * Returns 0 with *value set, HANT_EFORMAT or HANT_ERANGE. */
int hant_sensor_parse_reading(const char *text, size_t len, const char *path, double *value);

/* The label of a rail from the text of its sysfs file (rail_name_N,
 * inN_label; len bytes): the first line, cut at a NUL byte or to n - 1
 * bytes, each byte that is not printable ASCII shown as '?'. buf (n
 * bytes, n > 0) always ends in a NUL. */
void hant_sensor_parse_label(const char *text, size_t len, char *buf, size_t n);

#endif
