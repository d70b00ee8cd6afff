/* SPDX-License-Identifier: MIT */
/* hant.h: libhant's public interface, the one header hant-distill, hantd and hant-client include. */
#ifndef HANT_H
#define HANT_H

/* Areas from the bottom up; each header documents its own contracts. */

/* base: errors, files, places, a merge heap, hashing, random numbers, JSON reading and writing, options, plurals, progress */
#include "base.h"
#include "atomicfile.h"
#include "file.h"
#include "fnv.h"
#include "heap.h"
#include "json_read.h"
#include "jsonw.h"
#include "options.h"
#include "place.h"
#include "plural.h"
#include "progress.h"
#include "rng.h"
#include "sha256.h"

/* core: tensors, the arena, kernels, losses, optimisers */
#include "arena.h"
#include "gemm.h"
#include "kernels.h"
#include "ops.h"
#include "optim.h"
#include "svd.h"
#include "tensor.h"

/* data: data sets and their formats (IDX, CIFAR-10, NumPy, image folders) */
#include "dataset.h"
#include "data_load.h"

/* net: networks, architecture text, slots, native files, training */
#include "arch.h"
#include "infer.h"
#include "net.h"
#include "netfile.h"
#include "qat.h"
#include "quant.h"
#include "slots.h"
#include "train.h"

/* onnx: import and export */
#include "onnx.h"

/* family: candidate generation */
#include "family.h"
#include "family_lsq.h"

/* store: the SQLite library and jobs */
#include "build_settings.h"
#include "store.h"
#include "store_jobs.h"
#include "store_calib.h"
#include "store_kernels.h"
#include "store_int8.h"

/* cost: devices, costs, energy, power and power rows, the costed library snapshot */
#include "additivity.h"
#include "calibrate.h"
#include "costing.h"
#include "costmodel.h"
#include "costtable.h"
#include "device.h"
#include "energy.h"
#include "kernelmodel.h"
#include "library.h"
#include "measure.h"
#include "opsfile.h"
#include "power.h"
#include "sensor.h"

/* distill: the library build */
#include "distill.h"
#include "preset.h"

/* select: budgets, the selection problem and solver, the transform solve */
#include "budget.h"
#include "predictor.h"
#include "problem_json.h"
#include "select.h"
#include "transform_solve.h"

/* deploy: assembly, fine-tuning, export, measurement, deploy jobs, baselines */
#include "assemble.h"
#include "baseline.h"
#include "calibration.h"
#include "divergence.h"
#include "deploy.h"
#include "deploy_job.h"
#include "bn_restore.h"
#include "finetune.h"

/* rpc: the daemon's methods */
#include "rpc.h"

/* regen: fleets, reports, plots */
#include "fleet.h"
#include "report.h"
#include "svgplot.h"

#endif
