/**
 * The opt-in bf16 training setting (TrainConfig.convPrecision, `experiment --conv-precision bf16`):
 * fp32 runs keep their run keys, a bf16 run gets its own key and results file, training really
 * runs its convolutions in bf16 (different weights, a loss within bf16 precision of fp32's), the
 * precision is restored after every step (evaluations stay fp32), and bad input gets one sentence.
 */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/backend.ts";
import { bf16ConvsSupported, convPrecision, cpuHasBf16 } from "../lib/backend/bf16_convs.ts";
import { checkGridOptions } from "../lib/experiments/runner.ts";
import { rowById } from "../lib/experiments/grid.ts";
import { planGrid, runKey } from "../lib/experiments/plan.ts";
import { getPreset } from "../lib/experiments/presets.ts";
import { usingNativeOps } from "../lib/models/ops.ts";
import { ST } from "../lib/training/method.ts";
import { resolveTrainConfig, train } from "../lib/training/train.ts";
import { toyDataset } from "./toy_data.ts";

await initBackend();
const supported = usingNativeOps() && bf16ConvsSupported();

Deno.test("bf16 training: fp32 configs and keys unchanged, bf16 keyed and filed apart, bad values refused", () => {
  const fp32 = resolveTrainConfig({ method: ST, convPrecision: "fp32" });
  assert.deepEqual(fp32, resolveTrainConfig({ method: ST }));
  assert.equal("convPrecision" in fp32, false);
  assert.equal(resolveTrainConfig({ method: ST, convPrecision: "bf16" }).convPrecision, "bf16");

  const preset = getPreset("fashion-mnist", "default");
  const row = rowById("ST")!;
  const bf16Preset = { ...preset, train: { ...preset.train, convPrecision: "bf16" as const } };
  assert.notEqual(runKey(bf16Preset, row, 0, 2400), runKey(preset, row, 0, 2400));

  const dir = Deno.makeTempDirSync({ prefix: "sam-at-bf16-plan-" });
  try {
    const plain = planGrid({ preset: "default", resultsPath: `${dir}/x.csv` });
    const bf16 = planGrid({
      preset: "default",
      convPrecision: "bf16",
      resultsPath: `${dir}/x.csv`,
    });
    assert.equal(bf16.preset.train.convPrecision, "bf16");
    assert.notEqual(bf16.runs[0].runKey, plain.runs[0].runKey);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.match(
    planGrid({ preset: "default", convPrecision: "bf16" }).resultsPath,
    /results\/fashion-mnist-default-bf16\.csv$/,
  );
  assert.throws(
    () => resolveTrainConfig({ method: ST, convPrecision: "fp16" as "bf16" }),
    /^OptionError: Invalid option convPrecision: got "fp16", expected one of "fp32", "bf16"\.$/,
  );
  assert.throws(
    () => planGrid({ preset: "default", convPrecision: "half" as "bf16" }),
    /Invalid option --conv-precision: got "half", expected one of "fp32", "bf16"\./,
  );
});

Deno.test({
  name:
    "bf16 training: convolutions run in bf16 during steps only; loss within bf16 precision of fp32",
  ignore: !supported,
  async fn() {
    // Width 4: the first conv (1 input channel) stays fp32 by the oneDNN guard, the later ones
    // (4 and 8 input channels) run in bf16.
    const data = toyDataset(64, 8, 1, 3);
    const cfg = {
      method: ST,
      arch: "smallcnn" as const,
      width: 4,
      epochs: 2,
      batchSize: 16,
      lr: 0.05,
      augment: "none" as const,
      seed: 3,
    };
    const a = await train(data, cfg, { progress: "none" });
    const between: string[] = [];
    const b = await train(data, { ...cfg, convPrecision: "bf16" }, {
      progress: "none",
      evalData: data,
      onEpochEnd: () => void between.push(convPrecision()),
    });
    try {
      assert.equal(convPrecision(), "fp32", "the precision is restored after training");
      const wa = a.model.params.flatMap((p) => Array.from(p.dataSync()));
      const wb = b.model.params.flatMap((p) => Array.from(p.dataSync()));
      assert.notDeepEqual(wb, wa, "bf16 convolutions changed nothing: they did not run");
      for (let e = 0; e < 2; e++) {
        const [la, lb] = [a.metrics[e].trainLoss, b.metrics[e].trainLoss];
        assert.ok(Math.abs(lb - la) / la < 0.02, `epoch ${e + 1} loss fp32 ${la} vs bf16 ${lb}`);
      }
      // Between steps (where the per-epoch evaluation runs) the convolutions are fp32 again.
      assert.deepEqual(between, ["fp32", "fp32"]);
      assert.equal(b.config.convPrecision, "bf16");
    } finally {
      a.model.dispose();
      b.model.dispose();
    }
  },
});

Deno.test("bf16 needs bf16 hardware: cpuinfo flags read, and a grid on a CPU without them refused in one sentence", () => {
  const cpu = (flags: string) => `processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: ${flags}\n`;
  assert.equal(cpuHasBf16(cpu("fpu sse2 avx avx2 fma")), false);
  assert.equal(cpuHasBf16(cpu("avx2 avx512f avx512_bf16 avx512_vnni")), true);
  assert.equal(cpuHasBf16(cpu("avx2 amx_bf16 amx_tile")), true);
  assert.equal(cpuHasBf16("no flags line here"), null);
  if (cpuHasBf16() === false) {
    assert.throws(
      () => checkGridOptions({ preset: "default", convPrecision: "bf16" }),
      /^ExperimentError: --conv-precision bf16 needs a CPU with AVX512-BF16 or AMX-BF16; .*; drop --conv-precision bf16\.$/,
    );
  } else {
    checkGridOptions({ preset: "default", convPrecision: "bf16" }); // allowed where the CPU has it
  }
});
