#!/usr/bin/env python3
"""Rebuild a sam-at model file (lib/models/model_file.ts, safetensors format) as a PyTorch module.

    from load_model import load          # with scripts/ on sys.path
    model = load("results/.../models/RUN.safetensors")   # torch.nn.Module, eval mode
    logits = model(x)                    # x: [N, C, H, W] float32 pixels in [0, 1]

The architecture (PreActResNet-18, the small CNN, WRN-16-k) and its width come from the file's
header (sam_at.spec); the file's tensors are checked against scripts/arch_table.py, and the module
is scripts/torch_models.py's (what lib/models/model.ts computes, in eval mode: BatchNorm with the
running statistics). Parameter names equal the file's tensor names; conv weights are converted
from tfjs HWIO to OIHW, linear weights from [in, out] to [out, in].
The file is verified first (scripts/model_file_check.py: the SHA-256 over header and data of a
version-2 file, of the data of a version-1 file; the run key its name carries). The `safetensors` package reads the file where
it is installed (it also checks the format); otherwise the standard library and numpy do.

Needs a Python 3 with torch and numpy (the project's .venv has them only after `bin/deno task bench`);
without them it says so in one message.

    python3 scripts/load_model.py FILE.safetensors             # metadata + logits of a zero image
    python3 scripts/load_model.py FILE.safetensors --inputs X.f32 --json
        X.f32: raw little-endian float32 images, NHWC in [0, 1] (as the Deno model takes them);
        prints {"meta": ..., "logits": [[...], ...]} as JSON.
"""
import json
import sys

try:
    import numpy as np
    import torch
    import torch_models
except ImportError as err:  # say what is needed instead of a traceback
    sys.exit(f"load_model.py needs PyTorch and numpy ({err}). Install them into any Python 3, e.g.\n"
             f"  python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy\n"
             f"  /tmp/torch/bin/python scripts/load_model.py FILE.safetensors\n"
             f"(bin/deno task bench installs torch into the project's .venv; safetensors is optional).")

from arch_table import UnknownArchitecture, mismatch
from model_file_check import ModelFileError, read_checked


def read_file(path, use_package=None):
    """(tensors: {name: np.ndarray float32 in the file's tfjs layout}, sam_at metadata dict)."""
    header, sam_at, data, raw = read_checked(path)  # checksum and run key (model_file_check.py)
    bad = lambda why: ModelFileError(f"Model file {path} is damaged ({why}); copy it again or re-run the training that wrote it.")  # noqa: E731
    for name, t in header.items():
        if name != "__metadata__" and t.get("dtype") != "F32":
            raise bad(f"tensor {name} has dtype {t.get('dtype')}, expected F32")
    if use_package is None:
        try:
            import safetensors.numpy  # noqa: F401
            use_package = True
        except ImportError:
            use_package = False
    if use_package:
        import safetensors.numpy
        tensors = safetensors.numpy.load(raw)
    else:
        tensors = {}
        for name, t in header.items():
            if name == "__metadata__":
                continue
            try:
                b, e = t["data_offsets"]
                tensors[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"])
            except (ValueError, TypeError, KeyError):
                raise bad(f"tensor {name} has no valid shape and data_offsets") from None
    return tensors, sam_at


def to_torch(name, a):
    """tfjs layout -> PyTorch layout: conv HWIO -> OIHW, linear [in, out] -> [out, in]."""
    t = torch.from_numpy(np.array(a, dtype=np.float32))
    if t.dim() == 4:
        return t.permute(3, 2, 0, 1).contiguous()
    if t.dim() == 2 and name.endswith("weight"):
        return t.t().contiguous()
    return t


def load(path, use_package=None):
    """The model in the file as a torch.nn.Module in eval mode; `.sam_at` holds its metadata."""
    tensors, sam_at = read_file(path, use_package)
    spec = sam_at["spec"]
    # The architecture comes from the header: its tensors checked against the one table
    # (scripts/arch_table.py), the module built by scripts/torch_models.py.
    try:
        why = mismatch(spec, {k: list(v.shape) for k, v in tensors.items()})
    except UnknownArchitecture as e:
        raise ModelFileError(f"Model file {path} holds an {e}; read it with the sam-at version that "
                             "wrote it.") from None
    if why:
        raise ModelFileError(f"Model file {path} does not hold a {spec['arch']} width-{spec['width']} model "
                             f"({why}); re-save it with lib/models/model_file.ts.")
    model = torch_models.build(spec)
    state = model.state_dict()
    for k in torch_models.state_shapes(model):
        state[k] = to_torch(k, tensors[k])
    model.load_state_dict(state)
    model.sam_at = sam_at
    return model.eval()


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    path, as_json, inputs = argv[0], "--json" in argv, None
    try:
        model = load(path)
    except ModelFileError as e:
        print(f"ModelFileError: {e}", file=sys.stderr)
        return 2
    h, w, c = model.sam_at["spec"]["inputShape"]
    if "--inputs" in argv:
        x = np.fromfile(argv[argv.index("--inputs") + 1], dtype="<f4").reshape(-1, h, w, c)
        inputs = torch.from_numpy(x).permute(0, 3, 1, 2)  # NHWC -> NCHW
    else:
        inputs = torch.zeros(1, c, h, w)
    with torch.no_grad():
        logits = model(inputs)
    if as_json:
        print(json.dumps({"meta": model.sam_at, "logits": logits.tolist()}))
    else:
        print(json.dumps(model.sam_at, indent=2))
        print("logits:", logits.tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
