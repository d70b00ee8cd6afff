// SPDX-License-Identifier: MIT
// ort_run.mjs: runs an ONNX model in ONNX Runtime (CPU, npm onnxruntime-node) for hant's interop tests.
//
//   node ort_run.mjs run MODEL IN.f32 OUT.f32 [--threads N]
//       eval forward of the little-endian float32 [N, C, H, W] input; writes the raw float32 output
//   node ort_run.mjs fmnist MODEL DIR [--threads N] [--batch B] [--samples S]
//       accuracy (fraction 0-1) and mean cross-entropy on the 10,000 Fashion-MNIST test images in DIR
//       (the first S of them with --samples)
//       (t10k-*-idx*-ubyte[.gz]), pixels scaled to [0, 1]; prints {"accuracy", "loss", "n"}
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import ort from 'onnxruntime-node';

function option(args, name, def) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : def;
}

async function session(model, threads) {
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

function inputShape(s) {
  const meta = s.inputMetadata ? s.inputMetadata[0] : null;
  if (!meta || !meta.shape || meta.shape.length !== 4) throw new Error('model input is not [N, C, H, W]');
  return meta.shape.slice(1).map(Number);
}

function readIdx(file) {
  let buf = fs.readFileSync(fs.existsSync(file) ? file : file + '.gz');
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  const magic = buf.readUInt32BE(0);
  const dims = [];
  for (let i = 0; i < (magic & 0xff); i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  return { dims, data: buf.subarray(4 + 4 * dims.length) };
}

async function run(args) {
  const [model, inPath, outPath] = args;
  const s = await session(model, option(args, '--threads', 1));
  const [c, h, w] = inputShape(s);
  const raw = fs.readFileSync(inPath);
  const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const n = x.length / (c * h * w);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${inPath}: not a whole number of ${c}x${h}x${w} samples`);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [n, c, h, w]) });
  const y = out[s.outputNames[0]].data;
  fs.writeFileSync(outPath, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

async function fmnist(args) {
  const [model, dir] = args;
  const threads = option(args, '--threads', 1), batch = option(args, '--batch', 256);
  const s = await session(model, threads);
  const [c, h, w] = inputShape(s);
  const img = readIdx(path.join(dir, 't10k-images-idx3-ubyte'));
  const lab = readIdx(path.join(dir, 't10k-labels-idx1-ubyte'));
  const per = img.dims[1] * img.dims[2];
  const n = Math.min(img.dims[0], option(args, '--samples', img.dims[0]));
  if (c * h * w !== per || lab.dims[0] !== img.dims[0] || !(n >= 1)) throw new Error('model input does not match the data');
  let correct = 0, lsum = 0;
  for (let b0 = 0; b0 < n; b0 += batch) {
    const nb = Math.min(batch, n - b0);
    const x = new Float32Array(nb * per);
    for (let i = 0; i < nb * per; i++) x[i] = img.data[b0 * per + i] / 255;
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [nb, c, h, w]) });
    const z = out[s.outputNames[0]].data, k = z.length / nb;
    for (let i = 0; i < nb; i++) {
      let best = 0, max = -Infinity;
      for (let j = 0; j < k; j++) if (z[i * k + j] > max) { max = z[i * k + j]; best = j; }
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(z[i * k + j] - max);
      const y = lab.data[b0 + i];
      lsum += Math.log(sum) + max - z[i * k + y];
      if (best === y) correct++;
    }
  }
  console.log(JSON.stringify({ accuracy: correct / n, loss: lsum / n, n, runtime: `onnxruntime-node ${ort.env.versions.node}` }));
}

const [cmd, ...args] = process.argv.slice(2);
try {
  if (cmd === 'run' && args.length >= 3) await run(args);
  else if (cmd === 'fmnist' && args.length >= 2) await fmnist(args);
  else {
    console.error('usage: node ort_run.mjs run MODEL IN.f32 OUT.f32 [--threads N] | fmnist MODEL DIR [--threads N]');
    process.exit(2);
  }
} catch (e) {
  console.error(`ort_run: ${e.message}`);
  process.exit(1);
}
