#!/usr/bin/env python3
"""Rebuild a sam-at model file (lib/models/model_file.ts, safetensors format) as a PyTorch module.

    from load_model import load          # with scripts/ on sys.path
    model = load("results/.../models/RUN.safetensors")   # torch.nn.Module, eval mode
    logits = model(x)                    # x: [N, C, H, W] float32 pixels in [0, 1]

The module computes what lib/models/model.ts computes in eval mode: normalisation inside forward
(x * (1/std) + (-mean/std)), 3x3 convs padded 1 on every side (stride 1 and 2), 1x1 shortcut convs
unpadded, BatchNorm with the running statistics and eps 1e-5, ReLU, 2x2 max pools (floor),
global average pooling, linear with bias. Parameter names equal the file's tensor names;
conv weights are converted from tfjs HWIO to OIHW, linear weights from [in, out] to [out, in].
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
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:  # say what is needed instead of a traceback
    sys.exit(f"load_model.py needs PyTorch and numpy ({err}). Install them into any Python 3, e.g.\n"
             f"  python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy\n"
             f"  /tmp/torch/bin/python scripts/load_model.py FILE.safetensors\n"
             f"(bin/deno task bench installs torch into the project's .venv; safetensors is optional).")

from model_file_check import ModelFileError, read_checked

BN_EPS = 1e-5


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


class Normalize(nn.Module):
    """x * (1/std) + (-mean/std), the constants rounded to float32 as lib/models/model.ts does."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("scale", torch.tensor([1 / s for s in std]).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("shift", torch.tensor([-m / s for m, s in zip(mean, std)]).view(1, -1, 1, 1),
                             persistent=False)

    def forward(self, x):
        return x * self.scale + self.shift


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class PreActBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes, eps=BN_EPS)
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes, eps=BN_EPS)
        self.conv2 = conv3x3(planes, planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False))

    def forward(self, x):
        a = F.relu(self.bn1(x))
        shortcut = self.shortcut(a) if hasattr(self, "shortcut") else x
        return self.conv2(F.relu(self.bn2(self.conv1(a)))) + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, width, in_channels, num_classes, mean, std):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.conv1 = conv3x3(in_channels, width)
        cin = width
        for i, (planes, stride) in enumerate([(width, 1), (2 * width, 2), (4 * width, 2), (8 * width, 2)]):
            blocks = []
            for s in (stride, 1):
                blocks.append(PreActBlock(cin, planes, s))
                cin = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.bn = nn.BatchNorm2d(8 * width, eps=BN_EPS)
        self.linear = nn.Linear(8 * width, num_classes)

    def forward(self, x):
        out = self.conv1(self.normalize(x))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(F.relu(self.bn(out)).mean((2, 3)))


class SmallCnn(nn.Module):
    def __init__(self, width, in_channels, num_classes, mean, std):
        super().__init__()
        self.normalize = Normalize(mean, std)
        cin = in_channels
        for i, cout in enumerate([width, 2 * width, 4 * width]):
            setattr(self, f"conv{i + 1}", conv3x3(cin, cout))
            setattr(self, f"bn{i + 1}", nn.BatchNorm2d(cout, eps=BN_EPS))
            cin = cout
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        h = self.normalize(x)
        for i in (1, 2, 3):
            h = F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(h)))
            if i < 3:
                h = F.max_pool2d(h, 2, 2)
        return self.linear(h.mean((2, 3)))


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
    arch = {"prn18": PreActResNet18, "smallcnn": SmallCnn}[spec["arch"]]
    h, w, c = spec["inputShape"]
    model = arch(spec["width"], c, spec["numClasses"], spec["mean"], spec["std"])
    state = model.state_dict()
    wanted = {k for k in state if not k.endswith("num_batches_tracked")}
    if wanted != set(tensors):
        diff = sorted(wanted ^ set(tensors))
        raise ModelFileError(f"Model file {path} does not hold a {spec['arch']} width-{spec['width']} model "
                             f"(tensor {diff[0]} differs); re-save it with lib/models/model_file.ts.")
    for k in wanted:
        t = to_torch(k, tensors[k])
        if t.shape != state[k].shape:
            raise ModelFileError(f"Model file {path}: tensor {k} has shape {list(t.shape)}, expected "
                                 f"{list(state[k].shape)}; re-save it with lib/models/model_file.ts.")
        state[k] = t
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
