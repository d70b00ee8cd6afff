/* SPDX-License-Identifier: MIT */
/* energy.h: energy spent by this process's work, from RAPL where readable, else modelled, and its carbon. */
#ifndef HANT_ENERGY_H
#define HANT_ENERGY_H

/* Default grid carbon intensity, gCO2 per kWh: the world average for 2019
 * reported by the IEA (Global Energy Review 2019: 475 g/kWh). */
#define HANT_GRID_G_PER_KWH_DEFAULT 475.0

/* Power of one busy server core when RAPL cannot be read, watts: the TDP
 * per core of current server parts, e.g. AMD EPYC 9654 at 360 W for 96
 * cores (3.75 W) and Intel Xeon Platinum 8380 at 270 W for 40 cores
 * (6.75 W), from their datasheets; we take 5 W. */
#define HANT_CORE_WATTS_MODEL 5.0

typedef struct hant_energy_meter {
  int rapl;          /* number of RAPL package domains read, 0 if none */
  double rapl_j0;    /* reading at start, joules */
  double rapl_range; /* wrap-around range of the counters, joules */
  double cpu_s0;     /* process CPU seconds at start */
  char source[96];   /* "rapl" or "modelled: ..." */
} hant_energy_meter;

void hant_energy_start(hant_energy_meter *m);
/* Joules since start: RAPL package energy when readable, else
 * HANT_CORE_WATTS_MODEL x process CPU seconds. */
double hant_energy_joules(hant_energy_meter *m);

/* grams of CO2e for `joules` at `g_per_kwh`. */
static inline double hant_co2_grams(double joules, double g_per_kwh) { return joules / 3.6e6 * g_per_kwh; }

#endif
