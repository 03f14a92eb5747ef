/** The benchmark's FLOP counts (bench/flops.ts) against MACs counted by PyTorch forward hooks. */
import assert from "node:assert/strict";
import { forwardFlops, type ModelCase, stepFlops } from "../bench/flops.ts";

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

Deno.test("bench: step FLOPs are ST 3F, SAM 6F, AT-10 23F, EVAL 22F per batch", () => {
  const f = forwardFlops(prn(16)) * 128;
  assert.deepEqual(
    (["ST", "SAM", "AT", "EVAL"] as const).map((m) => stepFlops(prn(16), m, 128) / f),
    [3, 6, 23, 22],
  );
});
