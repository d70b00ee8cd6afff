// SPDX-License-Identifier: MIT
// ort_bench.mjs: inference latency of ONNX Runtime (CPU, npm onnxruntime-node) on a model, for bench_infer.py.
//
//   node ort_bench.mjs MODEL BATCH THREADS RUNS WARMUP
// Prints one JSON line like bench_infer: {"runtime", "batch", "threads", "runs", "median_ms", "p10_ms", "p90_ms"}.
// Uses the copy installed for the tests (tests/onnx/node_modules, scripts/install-ort.sh).
import { createRequire } from 'node:module';

const require = createRequire(new URL('../onnx/package.json', import.meta.url));
const ort = require('onnxruntime-node');

const [model, batch, threads, runs, warmup] = process.argv.slice(2);
const B = Number(batch), T = Number(threads), R = Number(runs), W = Number(warmup);
if (!model || !(B >= 1 && T >= 1 && R >= 1 && W >= 0)) {
  console.error('usage: node ort_bench.mjs MODEL BATCH THREADS RUNS WARMUP');
  process.exit(2);
}
const s = await ort.InferenceSession.create(model, {
  executionProviders: ['cpu'],
  intraOpNumThreads: T,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const [c, h, w] = s.inputMetadata[0].shape.slice(1).map(Number);
const x = new Float32Array(B * c * h * w);
let seed = 1;
for (let i = 0; i < x.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; x[i] = seed / 4294967296; }
const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', x, [B, c, h, w]) };
const ms = [];
for (let i = 0; i < W + R; i++) {
  const t0 = process.hrtime.bigint();
  await s.run(feeds);
  const dt = Number(process.hrtime.bigint() - t0) / 1e6;
  if (i >= W) ms.push(dt);
}
ms.sort((a, b) => a - b);
console.log(JSON.stringify({
  runtime: `onnxruntime-node ${ort.env.versions.node}`, batch: B, threads: T, runs: R,
  median_ms: ms[R >> 1], p10_ms: ms[Math.floor(R / 10)], p90_ms: ms[Math.floor(R * 9 / 10)],
}));
