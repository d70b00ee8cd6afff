/* SPDX-License-Identifier: MIT */
/* device.h: device profiles (JSON, one per device, every number with its unit and source) and where they are found. */
#ifndef HANT_DEVICE_H
#define HANT_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

/* Numeric precisions a device computes in. */
typedef enum hant_prec {
  HANT_PREC_FP32,
  HANT_PREC_FP16,
  HANT_PREC_INT16,
  HANT_PREC_INT8,
  HANT_PREC_COUNT
} hant_prec;

const char *hant_prec_name(hant_prec p);      /* "fp32", ... */
hant_prec hant_prec_from_name(const char *s); /* HANT_PREC_COUNT when unknown */
int hant_prec_bytes(hant_prec p);             /* bytes per element */

/* Classes of operator that reach different fractions of a device's peak. */
typedef enum hant_eff {
  HANT_EFF_CONV,      /* dense and grouped convolutions (im2col + GEMM on CPUs) */
  HANT_EFF_DEPTHWISE, /* one input channel per output channel */
  HANT_EFF_LINEAR,    /* fully connected */
  HANT_EFF_MEMORY,    /* fraction of memory bandwidth reached */
  HANT_EFF_COUNT
} hant_eff;

const char *hant_eff_name(hant_eff e);

#define HANT_DEVICE_MAX_LEVELS 6
#define HANT_DEVICE_MAX_MODES 16
#define HANT_DEVICE_MAX_CLUSTERS 8
#define HANT_DEVICE_MAX_BYTES ((size_t)1 << 20)

/* One level of the memory hierarchy, outermost (DRAM) first. */
typedef struct hant_device_level {
  char name[16];
  double capacity_bytes;
  double bandwidth_gbps; /* 1e9 bytes per second */
  double pj_per_byte;    /* energy to move one byte at this level */
} hant_device_level;

/* A group of identical cores (big.LITTLE devices have two). */
typedef struct hant_device_cluster {
  char name[32];
  int cores;
  double clock_mhz;
  double peak_gops[HANT_PREC_COUNT]; /* 0 where unsupported; a MAC is 2 ops */
} hant_device_cluster;

/* A power mode or DVFS point. Its peak compute is that of its cluster (or
 * of the device when cluster < 0) times compute_scale. */
typedef struct hant_device_mode {
  char name[32];
  int cluster;            /* index into clusters, or -1 */
  double compute_scale;   /* relative to the nominal peak */
  double bandwidth_scale; /* relative to every level's bandwidth */
  double energy_scale;    /* relative to the nominal pJ per MAC and per byte */
  double idle_w, active_w;
} hant_device_mode;

/* A loaded profile. Values are in the units of the field names; the
 * profile's own units (mW, GHz, KiB, ...) are converted on loading. */
typedef struct hant_device {
  char name[64];
  char description[256];
  char kind[16];      /* cpu, gpu, mcu, npu, accelerator */
  hant_prec precision; /* what candidates are costed in on this device */
  double peak_gops[HANT_PREC_COUNT]; /* 0 where unsupported */
  double pj_per_mac[HANT_PREC_COUNT]; /* 0 where unsupported */
  double eff[HANT_EFF_COUNT];         /* fractions in (0, 1] */
  int array_rows; /* reduction lanes: input channels x kernel taps are padded to a multiple */
  int array_cols; /* output lanes: output channels (or depthwise channels) are padded to a multiple */
  double overhead_us; /* fixed cost of launching one operator */
  bool weights_stationary; /* weights live in the compute array (in-memory computing): not moved per
                              inference while they fit its rows x cols cells */
  /* "execution": pipelined devices (accelerators, GPUs) overlap compute
   * and memory traffic, so an operator costs the larger of the two;
   * sequential ones (CPUs, MCUs running hant-style kernels) spend them one
   * after the other, launch one GEMM per convolution group, and run
   * depthwise loops along the output row padded to the SIMD width (cols). */
  bool sequential;
  hant_device_level levels[HANT_DEVICE_MAX_LEVELS];
  int n_levels;
  double idle_w, active_w;
  hant_device_mode modes[HANT_DEVICE_MAX_MODES];
  int n_modes;
  hant_device_cluster clusters[HANT_DEVICE_MAX_CLUSTERS];
  int n_clusters;
  char path[512];  /* file it was loaded from, or the label given to parse */
  char *json;      /* the profile's text, owned */
} hant_device;

/* Effective figures of a device in one mode (mode < 0: nominal). */
typedef struct hant_device_point {
  char mode[32];   /* "" when nominal */
  double peak_gops[HANT_PREC_COUNT];
  double bandwidth_scale, energy_scale;
  double idle_w, active_w;
} hant_device_point;

/* Parses a profile from memory. `name` labels messages (a file name).
 * Validation follows schema/device.schema.json: every number is an object
 * {"value", "unit", "source"} with a unit of the right dimension, required
 * fields must exist, unknown fields are refused, powers and sizes are
 * non-negative, efficiencies in (0, 1]. Errors are HANT_EFORMAT or
 * HANT_ELIMIT with a message naming the file and the JSON path, e.g.
 * "devices/rpi4.json: power_modes[1].active.value: expected a non-negative
 * number in W, got -2". On success *out owns a new device. */
int hant_device_parse(const char *text, size_t len, const char *name, hant_device **out);
/* Loads a file; its `name` field must equal the file name without ".json". */
int hant_device_load(const char *path, hant_device **out);
void hant_device_destroy(hant_device *d);

/* Index of a power mode by name, or -1. */
int hant_device_mode_find(const hant_device *d, const char *mode);
/* Fills p for mode index `mode` (-1: nominal, or the only sensible choice
 * for devices without modes). */
void hant_device_point_get(const hant_device *d, int mode, hant_device_point *p);

/* ---- where profiles live --------------------------------------------------
 * Searched in order: `dir` (from --devices, may be NULL), $HANT_DEVICES,
 * $XDG_DATA_HOME/hant/devices (default ~/.local/share/hant/devices), the
 * installed $datadir/hant/devices, and the source tree's devices/ (for
 * programs run from a build directory). A user adds a device by dropping
 * NAME.json into any of them. */
#define HANT_DEVICE_MAX_DIRS 5

/* Fills dirs (each n bytes) with the search path; returns how many. */
int hant_device_dirs(const char *dir, char dirs[][512], int n);
/* Finds NAME.json on the search path and loads it. HANT_ENOENT naming the
 * directories searched when no profile has that name. */
int hant_device_find(const char *dir, const char *name, hant_device **out);
/* Like hant_device_find, and when no file has that name, the profile the
 * library `st` stored for it (by hant-distill profile or import-costs).
 * st may be NULL. */
struct hant_store;
int hant_device_resolve(struct hant_store *st, const char *dir, const char *name, hant_device **out);

/* Names of all profiles on the search path (first one wins for a name),
 * sorted; *names is malloc'd as one block (free it). */
int hant_device_list(const char *dir, char (**names)[64], int *n);

#endif
