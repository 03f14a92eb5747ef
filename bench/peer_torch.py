"""PyTorch CPU peer of bench/bench.ts: the same models, batch, optimizer, SAM and PGD, timed the same way.

Architectures: scripts/torch_models.py's modules (the ones scripts/load_model.py rebuilds model
files with), from the table in scripts/arch_table.py that tests/arch_table_test.ts checks against
lib/models/architectures.ts: prn18 (PreActResNet-18 of width w; the authors' model.py at w = 64),
smallcnn, wrn16 (WRN-16-k, k = width). The per-channel normalisation runs inside forward (inputs
and attacks live in [0, 1] pixel space).

Methods (batch 128 by default, SGD momentum 0.9, weight decay 5e-4, as the paper):
  ST   one forward/backward and an SGD step.
  SAM  davda54/sam (adaptive=False) as the authors use it: g1 at w, e = rho g1 / (||g1|| + 1e-12),
       g2 at w + e, w restored, SGD step with g2 (rho 0.05).
  AT   PGD-10 L-inf (eps 8/255, step 2/255, random start) in train mode, then an SGD step on the
       adversarial batch. The attack asks autograd for the input gradient only
       (torch.autograd.grad w.r.t. delta), so it never computes weight gradients it would
       throw away: PyTorch's fastest way to run the same algorithm.
  EVAL PGD-10 evaluation in eval mode: clean forward, PGD-10 (eps 8/255, step 2/255), adversarial
       forward, per batch; reports images per second.

Layouts: "nchw" (contiguous) and "channels_last" (model and inputs in torch.channels_last).

Modes: "eager" (plain PyTorch) and "compile" (torch.compile(model, backend="inductor",
dynamic=False): the model's forward and, through AOTAutograd, its backward are compiled; the loss,
SAM's perturbation, PGD's projection and the SGD update stay eager). Compiled models are separate
instances (same seed, same initial weights) from the eager ones. Compilation happens in the first
call of each new graph (train/eval mode, attack/training backward, batch size); its time is reported
as "compile_ms" = first warm-up call minus the median timed step, and is never in "times_ms". In
compile mode the PGD attack freezes the weights (requires_grad False) while it runs, so the compiled
backward computes the input gradient only (eager gets the same from torch.autograd.grad(loss,
delta)); dynamo's recompile limit is raised so that no graph silently falls back to eager, and the
reply says whether anything compiled during the timed steps ("recompiled").

Precisions: "fp32" (default) and "bf16" (torch.autocast("cpu", dtype=torch.bfloat16) around the
forward passes; fp32 master weights, loss and update in fp32): a reference, not the fp32 peer.

Speed settings: torch.set_num_threads(--threads, default 2) and OMP_WAIT_POLICY=PASSIVE (set here
before torch loads unless the caller set it), SGD with foreach=True (its multi-tensor path).

Two ways to run:
  python bench/peer_torch.py --arch prn18 --width 16 --method ST [--layout channels_last] [--steps 5]
                             [--mode compile] [--precision bf16]
  python bench/peer_torch.py --serve      # JSON lines on stdin/stdout, used by bench/bench.ts
A served request {"arch", "width", "size", "channels", "method", "batch", "layout", "steps", "warmup",
"mode", "precision"} is answered with {"ok": true, "times_ms": [...], "cpu_ms", "peak_rss_mb",
"rss_start_mb", "compile_ms", "first_call_ms", "graphs", "recompiled"} (peak_rss_mb: VmHWM, reset
at the request's start; rss_start_mb: VmRSS then); models persist between requests (one per
arch/width/size/channels/layout/batch/mode), so warm-up (and compilation) happens once per model and
method.
"""
import argparse
import contextlib
import json
import os
import resource
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# The architectures: scripts/torch_models.py, built from the table scripts/arch_table.py (as
# scripts/load_model.py builds a model file's), never restated here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from arch_table import ARCHITECTURES  # noqa: E402
from torch_models import build  # noqa: E402

FASHION = ([0.2860], [0.3530])
CIFAR10 = ([0.4914, 0.4822, 0.4465], [0.2471, 0.2435, 0.2616])


def peak_rss_reset():
    """Reset the kernel's high-water mark of the resident set (Linux); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def status_mb(field):
    """A /proc/self/status memory field (VmHWM, VmRSS) in MB; None where unreadable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb():
    v = status_mb("VmHWM")
    return v if v is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Runner:
    """One model + optimizer per (arch, width, size, channels, layout), kept between requests."""

    def __init__(self):
        self.models = {}

    def get(self, req):
        mode = req.get("mode", "eager")
        key = (req["arch"], req["width"], req["size"], req["channels"], req["layout"], req["batch"],
               mode)
        if key not in self.models:
            torch.manual_seed(0)
            c = req["channels"]
            default = FASHION if req["arch"] == "smallcnn" else CIFAR10
            mean, std = default if len(default[0]) == c else ([0.5] * c, [0.25] * c)
            s = req["size"]
            model = build({"arch": req["arch"], "width": req["width"], "inputShape": [s, s, c],
                           "numClasses": 10, "mean": mean, "std": std})
            fmt = torch.channels_last if req["layout"] == "channels_last" else torch.contiguous_format
            model = model.to(memory_format=fmt)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4,
                                  foreach=True)
            g = torch.Generator().manual_seed(1)
            n, s = req["batch"], req["size"]
            x = torch.rand(n, c, s, s, generator=g).contiguous(memory_format=fmt)
            y = torch.randint(0, 10, (n,), generator=g)
            net = model
            if mode == "compile":
                net = torch.compile(model, backend="inductor", dynamic=False)
            elif mode != "eager":
                raise ValueError(f"unknown mode {mode!r}: eager or compile")
            self.models[key] = (net, opt, x, y)
        return self.models[key]


def raise_recompile_limits():
    """Let dynamo keep one graph per (mode, method, shape) instead of falling back to eager at 8."""
    cfg = torch._dynamo.config
    for name, value in (("cache_size_limit", 256), ("recompile_limit", 256),
                        ("accumulated_cache_size_limit", 4096),
                        ("accumulated_recompile_limit", 4096)):
        if hasattr(cfg, name):
            setattr(cfg, name, value)


def graphs_compiled():
    """How many graphs dynamo has compiled in this process so far (-1 where not readable)."""
    try:
        from torch._dynamo.utils import counters
        return int(counters["stats"]["unique_graphs"])
    except Exception:
        return -1


def autocast(precision):
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if precision != "fp32":
        raise ValueError(f"unknown precision {precision!r}: fp32 or bf16")
    return contextlib.nullcontext()


def loss_of(model, x, y, precision):
    """Cross-entropy of model(x); under bf16 autocast the logits are cast back, the loss is fp32."""
    with autocast(precision):
        logits = model(x)
    return F.cross_entropy(logits.float(), y)


@contextlib.contextmanager
def frozen(params, on):
    """Weights with requires_grad False inside (when on): a compiled backward then skips dW."""
    if not on:
        yield
        return
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def pgd_linf(model, x, y, eps, alpha, steps, precision="fp32", freeze=False):
    """The authors' utils.PGD (L-inf, random start, clamp to [0, 1]); input gradient only."""
    delta = torch.empty_like(x).uniform_(-eps, eps)
    delta = torch.clamp(delta, -x, 1 - x)
    with frozen(list(model.parameters()), freeze):
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = loss_of(model, x + delta, y, precision)
            (g,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                d = torch.clamp(delta + alpha * torch.sign(g), -eps, eps)
                delta = torch.max(torch.min(d, 1 - x), -x)
    return (x + delta).detach()


def sam_step(model, opt, x, y, rho, precision="fp32"):
    params = [p for p in model.parameters()]
    loss = loss_of(model, x, y, precision)
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        scale = rho / (norm + 1e-12)
        e = torch._foreach_mul(grads, scale)
        old = [p.detach().clone() for p in params]
        torch._foreach_add_(params, e)
    loss2 = loss_of(model, x, y, precision)
    grads2 = torch.autograd.grad(loss2, params)
    with torch.no_grad():
        for p, o in zip(params, old):
            p.copy_(o)
    for p, g in zip(params, grads2):
        p.grad = g
    opt.step()
    return loss.detach()


def train_step(model, opt, x, y, method, precision="fp32", freeze=False):
    model.train()
    if method == "SAM":
        return sam_step(model, opt, x, y, 0.05, precision)
    if method == "AT":
        x = pgd_linf(model, x, y, 8 / 255, 2 / 255, 10, precision, freeze)
    opt.zero_grad(set_to_none=True)
    loss = loss_of(model, x, y, precision)
    loss.backward()
    opt.step()
    return loss.detach()


def eval_step(model, x, y, precision="fp32", freeze=False):
    model.eval()
    with torch.no_grad(), autocast(precision):
        clean = (model(x).argmax(1) == y).sum()
    xa = pgd_linf(model, x, y, 8 / 255, 2 / 255, 10, precision, freeze)
    with torch.no_grad(), autocast(precision):
        robust = (model(xa).argmax(1) == y).sum()
    return clean + robust


def run(runner, req):
    model, opt, x, y = runner.get(req)
    method = req["method"]
    precision = req.get("precision", "fp32")
    compiled = req.get("mode", "eager") == "compile"
    step = (lambda: eval_step(model, x, y, precision, compiled)) if method == "EVAL" else (
        lambda: train_step(model, opt, x, y, method, precision, compiled))
    peak_rss_reset()
    rss_start = status_mb("VmRSS")
    g0 = graphs_compiled()
    first_ms = None
    warmup = req.get("warmup", 1)
    # A compiled graph may first be traced on the 1st call and specialised on the 2nd: warm up twice.
    if compiled and warmup > 0:
        warmup = max(warmup, 2)
    for i in range(warmup):
        t0 = time.perf_counter()
        float(step())
        if i == 0:
            first_ms = (time.perf_counter() - t0) * 1000
    g1 = graphs_compiled()
    times = []
    c0 = time.process_time()
    for _ in range(req.get("steps", 3)):
        t0 = time.perf_counter()
        float(step())  # .item(): the step is finished
        times.append((time.perf_counter() - t0) * 1000)
    cpu = (time.process_time() - c0) * 1000
    g2 = graphs_compiled()
    med = sorted(times)[len(times) // 2] if times else float("nan")
    compile_ms = (first_ms - med) if (compiled and first_ms is not None and g1 > g0) else 0.0
    return {"ok": True, "times_ms": times, "cpu_ms": cpu, "peak_rss_mb": peak_rss_mb(),
            "rss_start_mb": rss_start,
            "first_call_ms": first_ms, "compile_ms": max(compile_ms, 0.0),
            "graphs": g1 - g0 if g0 >= 0 else -1, "recompiled": g2 != g1}


def matmul_peak(n=2048, reps=10):
    """Best fp32 GFLOP/s of an n x n torch.mm (the machine's matrix-multiply peak, as seen by torch)."""
    a = torch.rand(n, n)
    b = torch.rand(n, n)
    best = float("inf")
    for i in range(reps + 2):
        t0 = time.perf_counter()
        torch.mm(a, b)
        dt = time.perf_counter() - t0
        if i >= 2:
            best = min(best, dt)
    return 2 * n ** 3 / best / 1e9


def bf16_supported():
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return None


def info():
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "bf16_cpu": bf16_supported(),
        "python": sys.version.split()[0],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arch", default="prn18", choices=list(ARCHITECTURES))
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--channels", type=int, default=None)
    ap.add_argument("--method", default="ST", choices=["ST", "SAM", "AT", "EVAL"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--layout", default="nchw", choices=["nchw", "channels_last"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--mode", default="eager", choices=["eager", "compile"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    raise_recompile_limits()
    runner = Runner()
    if not a.serve:
        size = a.size or (32 if a.arch == "prn18" else 28)
        ch = a.channels or (3 if a.arch == "prn18" else 1)
        req = dict(arch=a.arch, width=a.width, size=size, channels=ch, method=a.method,
                   batch=a.batch, layout=a.layout, steps=a.steps, warmup=a.warmup, mode=a.mode,
                   precision=a.precision)
        r = run(runner, req)
        t = sorted(r["times_ms"])
        print(json.dumps({**info(), **req, "median_ms": t[len(t) // 2], **r}))
        return
    out = sys.stdout
    out.write(json.dumps({"ok": True, "hello": info()}) + "\n")
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            if req.get("cmd") == "quit":
                break
            if req.get("cmd") == "matmul":
                resp = {"ok": True, "gflops": matmul_peak(req.get("n", 2048), req.get("reps", 10))}
            else:
                resp = run(runner, req)
        except Exception as e:  # reported to the bench, which prints it
            resp = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(resp) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
