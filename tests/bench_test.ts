/** The benchmark's FLOP counts (bench/flops.ts) against MACs counted by PyTorch forward hooks. */
import assert from "node:assert/strict";
import {
  evalStepPasses,
  forwardFlops,
  type ModelCase,
  stepFlops,
  trainStepPasses,
} from "../bench/flops.ts";
import { at, sam, ST } from "../lib/training/method.ts";
import { parseBatches, parsePeerVariants } from "../bench/options.ts";
import { bestOf, type VariantResult } from "../bench/peer_pick.ts";

const prn = (width: number): ModelCase => ({
  arch: "prn18",
  width,
  size: 32,
  channels: 3,
  label: `prn18-w${width}`,
});

Deno.test("bench: forward FLOPs are 2 x the MACs PyTorch hooks count on bench/peer_torch.py's models", () => {
  // Conv2d: output elements x in_channels x k x k; Linear: in x out (measured on PyTorch 2.13).
  assert.equal(forwardFlops(prn(64)), 2 * 555422720);
  assert.equal(forwardFlops(prn(16)), 2 * 35046656);
  assert.equal(
    forwardFlops({ arch: "smallcnn", width: 8, size: 28, channels: 1, label: "smallcnn-w8" }),
    2 * 508352,
  );
});

Deno.test("bench: step FLOPs from the plugins' passes are ST 3F, SAM 6F, AT-10 23F, EVAL 22F per batch", () => {
  const f = forwardFlops(prn(16)) * 128;
  const pgd10 = { attack: "pgd", norm: "linf", eps: 8 / 255, options: { steps: 10 } } as const;
  const steps = [
    trainStepPasses(ST),
    trainStepPasses(sam(0.05)),
    trainStepPasses(at("linf", 8 / 255, 2 / 255, 10)),
    evalStepPasses(pgd10),
  ];
  assert.deepEqual(steps.map((p) => stepFlops(prn(16), p, 128) / f), [3, 6, 23, 22]);
  assert.deepEqual(steps[2], { gradient: 1, inputGradient: 10, forward: 0 });
  // Not by name: LookSAM k=4 (1 + 1/4 gradient passes), FGSM AT (1 step), Square eval (forward only).
  const looksam = { optimizer: { name: "looksam", k: 4 }, perturb: null };
  assert.equal(stepFlops(prn(16), trainStepPasses(looksam), 128) / f, 3.75);
  const fgsmAt = {
    optimizer: { name: "sgd" },
    perturb: { attack: "fgsm", norm: "linf" as const, eps: 8 / 255 },
  };
  assert.equal(stepFlops(prn(16), trainStepPasses(fgsmAt), 128) / f, 5);
  const sq = { attack: "square", norm: "linf" as const, eps: 8 / 255, options: { queries: 100 } };
  assert.equal(stepFlops(prn(16), evalStepPasses(sq), 128) / f, 102);
});

Deno.test("bench: --peer-variants parses MODE/LAYOUT, dedupes, and needs an fp32 variant", () => {
  const v = parsePeerVariants("eager/nchw, compile/cl,compile-bf16/channels_last,eager/nchw");
  assert.deepEqual(v.map((x) => [x.label, x.mode, x.layout, x.precision]), [
    ["eager/nchw", "eager", "nchw", "fp32"],
    ["compile/channels_last", "compile", "channels_last", "fp32"],
    ["compile-bf16/channels_last", "compile", "channels_last", "bf16"],
  ]);
  assert.throws(() => parsePeerVariants("jit/nchw"), /MODE\/LAYOUT/);
  assert.throws(() => parsePeerVariants("eager"), /MODE\/LAYOUT/);
  assert.throws(() => parsePeerVariants("eager-bf16/nchw"), /at least one fp32/);
});

Deno.test("bench: --batches parses a sorted unique list, none skips", () => {
  assert.deepEqual(parseBatches("512,32,128,32"), [32, 128, 512]);
  assert.deepEqual(parseBatches("none"), []);
  assert.throws(() => parseBatches("0"), /batch size/);
  assert.throws(() => parseBatches("12.5"), /batch size/);
});

Deno.test("bench: the peer is the fastest fp32 variant; eager, compiled and bf16 kept beside", () => {
  const r = (label: string, ms: number): VariantResult => ({
    variant: parsePeerVariants(label.includes("bf16") ? `eager/nchw,${label}` : label).at(-1)!,
    ms,
    cpuMs: ms,
    rssMb: 1,
    stepRssMb: 1,
    compileS: label.startsWith("compile") ? 60 : 0,
    recompiled: false,
  });
  const results = [
    r("eager/nchw", 120),
    r("eager/channels_last", 110),
    r("compile/channels_last", 100),
    r("compile-bf16/channels_last", 80),
    r("compile/nchw", NaN), // failed: never picked
  ];
  const pick = bestOf(results);
  assert.equal(pick.best?.variant.label, "compile/channels_last"); // bf16 is faster but not fp32
  assert.equal(pick.eager?.variant.label, "eager/channels_last");
  assert.equal(pick.compiled?.variant.label, "compile/channels_last");
  assert.equal(pick.bf16?.variant.label, "compile-bf16/channels_last");
  assert.equal(bestOf([r("eager/nchw", NaN)]).best, undefined);
});

Deno.test("bench: --threads outside 1..cores is refused in one sentence before anything runs", async () => {
  const options = new URL("../bench/options.ts", import.meta.url).pathname;
  for (const bad of ["0", "1.5", String(navigator.hardwareConcurrency + 1)]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", options, "--threads", bad],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.match(
      new TextDecoder().decode(out.stderr),
      /--threads: ".*" is not a thread count from 1 to \d+/,
    );
  }
  const ok = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", options, "--threads", "1"],
  }).output();
  assert.equal(ok.code, 0);
});
