/* SPDX-License-Identifier: MIT */
/* power.h: from energy per inference to power while inferring, sustained power at a frame rate, carbon per million inferences, and power budgets as linear rows. */
#ifndef HANT_POWER_H
#define HANT_POWER_H

#include <stddef.h>

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

/* ---------------------------------------------------------------------------
 * Power budgets as linear rows of the selection problem (select.h, brief
 * section 6), where x_ij is 1 when slot i takes candidate j. Energies are in
 * mJ per inference and latencies in ms per inference, so mJ / ms is W. Each
 * function reads n_items entries with the given strides (in doubles), so it
 * can read straight from a problem's cost matrix, and writes one new cost
 * row (n_items entries, contiguous, owned by the caller) plus its budget.
 * Both return 0, or HANT_EINVAL for a NULL array, a non-finite cost or an
 * argument out of range.
 * ------------------------------------------------------------------------- */

/* Power cap while inferring, energy / latency <= cap_w, as the linear row
 *   sum (e_ij - cap_w * t_ij) x_ij <= 0          (unit: mJ).
 * The row's entries are negative for candidates under the cap. */
int hant_power_cap_row(size_t n_items, const double *energy_mj, size_t energy_stride,
                       const double *latency_ms, size_t latency_stride, double cap_w, double *row,
                       double *row_budget);

/* Sustained power at fps_hz inferences per second, with idle_w drawn
 * between inferences:
 *   F * E + P_idle * (1 - F * T) <= P,  with E in J and T in s,
 * i.e. the linear row (unit: W)
 *   sum (F * e_ij - P_idle * F * t_ij) * 1e-3 * x_ij <= P - P_idle
 * together with the latency condition T <= 1 / F, returned as
 * *latency_budget_ms = 1000 / F; the caller combines it with its latency
 * budget (the smaller one wins). fps_hz must be > 0, powers finite. */
int hant_power_sustained_row(size_t n_items, const double *energy_mj, size_t energy_stride,
                             const double *latency_ms, size_t latency_stride, double fps_hz,
                             double idle_w, double cap_w, double *row, double *row_budget,
                             double *latency_budget_ms);

#endif
