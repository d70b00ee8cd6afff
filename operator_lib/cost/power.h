/* SPDX-License-Identifier: MIT */
/* power.h: from energy per inference to power while inferring, sustained power at a frame rate, and carbon per million inferences. */
#ifndef HANT_POWER_H
#define HANT_POWER_H

/* Average power while inferring, W: energy per inference / latency
 * (mJ / ms = W). 0 when latency_ms <= 0. */
double hant_power_avg_w(double energy_mj, double latency_ms);

/* Sustained power at fps frames per second, W: the device infers F times a
 * second and idles the rest, F x E + P_idle x (1 - F x T) (brief section
 * 6). Returns -1 when the frame rate cannot be met (F x T > 1) or an
 * argument is negative. */
double hant_power_sustained_w(double energy_mj, double latency_ms, double fps, double idle_w);

/* Grams of CO2e per million inferences at g_per_kwh grams per kWh (use
 * HANT_GRID_G_PER_KWH_DEFAULT from energy.h when none is stated). */
double hant_power_co2_g_per_million(double energy_mj, double g_per_kwh);

#endif
