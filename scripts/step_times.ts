/**
 * Time the training step of each method once, quickly, and report the process's peak memory.
 * Not a benchmark (see bench/ for that): a sanity check of speed and of the memory budget.
 *
 *   bin/deno run -A scripts/step_times.ts [--arch prn18] [--width 64] [--size 32] [--channels 3]
 *                                         [--batch 128] [--methods ST,SAM,AT10] [--reps 3]
 *   (methods: ST, SAM, ASAM, AT<steps>, SAM+AT<steps>)
 *
 * "AT10" is PGD-10 adversarial training (L-inf 8/255, step 2/255; "AT5" five steps), "ASAM" is
 * adaptive SAM (rho 0.5), "SAM+AT10" SAM (rho 0.05) on PGD-10 inputs. Each method runs one warm-up
 * step, then --reps timed steps on a fixed random batch; the median is printed. Peak memory is
 * the kernel's high-water mark of the resident set (VmHWM in /proc/self/status), which catches
 * the peak inside a step; elsewhere it falls back to the largest RSS seen between steps.
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { type Arch, createModel } from "../lib/models/model.ts";
import { usingNativeOps } from "../lib/models/ops.ts";
import { Rng } from "../lib/util/rng.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { makeTrainStep } from "../lib/training/train.ts";
import { at, type Method, pgdInputs, sam, ST } from "../lib/training/method.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    arch: { type: "string", default: "prn18" },
    width: { type: "string", default: "64" },
    size: { type: "string", default: "32" },
    channels: { type: "string", default: "3" },
    batch: { type: "string", default: "128" },
    methods: { type: "string", default: "ST,SAM,AT10" },
    reps: { type: "string", default: "3" },
  },
});

/** "ST", "SAM", "ASAM", "AT<k>", "SAM+AT<k>" (k PGD steps, default 10) -> the training method. */
function methodNamed(name: string): Method {
  if (name === "ST") return ST;
  if (name === "SAM") return sam(0.05);
  if (name === "ASAM") return sam(0.5, true);
  const m = /^(SAM\+)?AT(\d*)$/.exec(name);
  if (!m) {
    console.error(`Unknown method "${name}": use ST, SAM, ASAM, AT<steps> or SAM+AT<steps>.`);
    Deno.exit(2);
  }
  const steps = Number(m[2] || 10);
  return m[1]
    ? { optimizer: sam(0.05).optimizer, perturb: pgdInputs("linf", 8 / 255, 2 / 255, steps) }
    : at("linf", 8 / 255, 2 / 255, steps);
}

function peakRssBytes(seen: number): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Math.max(seen, Number(m[1]) * 1024);
  } catch { /* not Linux */ }
  return seen;
}

const backend = await initBackend();
const [size, ch, batch] = [Number(a.size), Number(a.channels), Number(a.batch)];
const rng = Rng.fromSeed(0);
const model = createModel({
  arch: a.arch as Arch,
  width: Number(a.width),
  inputShape: [size, size, ch],
  numClasses: 10,
  mean: new Array(ch).fill(0.5),
  std: new Array(ch).fill(0.25),
}, rng);
const opt = createSgd(model.params);
const x = tf.tensor4d(rng.fillUniform(new Float32Array(batch * size * size * ch), 0, 1), [
  batch,
  size,
  size,
  ch,
]);
const y = tf.tensor1d(Int32Array.from({ length: batch }, () => rng.int(10)), "int32");
let seenRss = Deno.memoryUsage().rss;
console.log(
  `${a.arch} width ${a.width}, ${size}x${size}x${ch}, batch ${batch}, backend ${backend}` +
    `${usingNativeOps() ? " (fused libtensorflow ops)" : ""}`,
);
for (const name of a.methods.split(",")) {
  const step = makeTrainStep(model, opt, methodNamed(name), "loss-pass", rng);
  const times: number[] = [];
  for (let i = 0; i <= Number(a.reps); i++) {
    const t0 = performance.now();
    const loss = await step(x, y, 0.01);
    loss.dataSync();
    loss.dispose();
    if (i > 0) times.push(performance.now() - t0);
    seenRss = Math.max(seenRss, Deno.memoryUsage().rss);
  }
  times.sort((p, q) => p - q);
  console.log(
    `${name.padEnd(5)} median ${times[times.length >> 1].toFixed(0)} ms/step ` +
      `(min ${times[0].toFixed(0)}, ${times.length} steps); peak RSS so far ${
        (peakRssBytes(seenRss) / 2 ** 30).toFixed(2)
      } GiB; ` +
      `live tensors ${tf.memory().numTensors}`,
  );
}
