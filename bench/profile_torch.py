"""Where the PyTorch peer's step goes, by op kind: the other side of bench/profile_prn18.ts.

    .venv/bin/python bench/profile_torch.py [--arch prn18] [--width 16] [--method EVAL]
        [--mode compile|eager] [--layout channels_last|nchw] [--steps 2] [--warmup 3] [--threads 2]

The step is bench/peer_torch.py's own (same model, batch 128, PGD-10 with frozen weights in compile
mode), timed without the profiler first (median of 5), then run --steps times under
torch.profiler. Self time per step (wall time of each op on the calling thread, its OpenMP
workers included, as profile_prn18.ts times each native call), grouped: convolution forward
(aten::mkldnn_convolution), convolution backward (aten::convolution_backward: the input gradient
in EVAL and AT attacks, also the weight gradient in training), inductor's generated kernels (the
self time of "## Call CompiledFxGraph": BatchNorm, ReLU, residual adds and their gradients fused
into C++ loops), and everything else by aten op. OMP_WAIT_POLICY=PASSIVE as the bench.
"""
import argparse
import collections
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_torch as P  # noqa: E402
import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402


def kind_of(key):
    if key.startswith("## Call CompiledFxGraph"):
        return "inductor kernels"
    if key in ("aten::mkldnn_convolution", "aten::_convolution", "aten::convolution"):
        return "conv forward"
    if key.startswith("aten::convolution_backward") or "convolution_backward" in key:
        return "conv backward"
    if key in ("aten::addmm", "aten::mm"):
        return "linear"
    if "softmax" in key or "nll_loss" in key:
        return "loss"
    if key.startswith("aten::"):
        return "other aten"
    return "framework"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="prn18")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--method", default="EVAL", choices=["ST", "SAM", "AT", "EVAL"])
    ap.add_argument("--mode", default="compile", choices=["eager", "compile"])
    ap.add_argument("--layout", default="channels_last", choices=["nchw", "channels_last"])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    P.raise_recompile_limits()
    size, ch = (32, 3) if a.arch == "prn18" else (28, 1)
    req = {"arch": a.arch, "width": a.width, "size": size, "channels": ch, "layout": a.layout,
           "batch": 128, "mode": a.mode}
    model, opt, x, y = P.Runner().get(req)
    frozen = a.mode == "compile"
    if a.method == "EVAL":
        def step():
            return P.eval_step(model, x, y, "fp32", frozen)
    else:
        def step():
            return P.train_step(model, opt, x, y, a.method, "fp32", frozen)
    for _ in range(a.warmup):
        float(step())
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        float(step())
        times.append((time.perf_counter() - t0) * 1000)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(a.steps):
            float(step())
    load = open("/proc/loadavg").read().split()[:3]
    print(f"torch {a.mode}/{a.layout} {a.arch}-w{a.width} {a.method} b128: step "
          f"{sorted(times)[2]:.1f} ms median of 5 (unprofiled); load average {' '.join(load)}")
    kinds = collections.defaultdict(lambda: [0.0, 0.0])
    ops = []
    for e in prof.key_averages():
        ms, calls = e.self_cpu_time_total / 1000 / a.steps, e.count / a.steps
        k = kinds[kind_of(e.key)]
        k[0] += ms
        k[1] += calls
        ops.append((ms, calls, e.key))
    total = sum(v[0] for v in kinds.values())
    print(f"{'op kind':18s} {'ms/step':>9s} {'%':>6s} {'calls':>7s}")
    for name, (ms, calls) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        print(f"{name:18s} {ms:9.1f} {100 * ms / total:6.1f} {calls:7.0f}")
    print(f"{'total (self)':18s} {total:9.1f}")
    print("\ntop ops (self ms/step, calls)")
    for ms, calls, key in sorted(ops, reverse=True)[:12]:
        print(f"  {key[:60]:60s} {ms:9.1f} {calls:6.0f}")


if __name__ == "__main__":
    main()
