#!/usr/bin/env python3
"""The architectures of lib/models/architectures.ts as one table; standard library only.

For an architecture name and width, as a model file's header records them (sam_at.spec: arch,
width, inputShape [H, W, C], numClasses, mean, std; lib/models/model_file.ts), the model's tensors
in the TypeScript model's order: trainable parameters, then BatchNorm running statistics, each
with its name and its shape in the file's (tfjs) layout (conv HWIO, linear [in, out]).

    prn18     PreActResNet-18 of width w (the authors' model.py at w = 64): conv1 -> layer1..4 of
              2 pre-activation blocks (w, 2w, 4w, 8w; strides 1, 2, 2, 2; a 1x1 `shortcut.0`
              where the shape changes) -> bn -> global average pool -> linear.
    smallcnn  conv1/bn1 (w) -> maxpool -> conv2/bn2 (2w) -> maxpool -> conv3/bn3 (4w) -> global
              average pool -> linear.
    wrn16     WRN-16-k, k = width, in RobustBench's layout: conv1 (16) -> block1..3 with
              `layer.0`, `layer.1` pre-activation blocks (16k, 32k, 64k; strides 1, 2, 2; a 1x1
              `convShortcut` where the shape changes) -> bn1 -> global average pool -> fc.

scripts/torch_models.py builds the PyTorch modules (for scripts/load_model.py and
bench/peer_torch.py) and checks every module it builds against this table;
tests/arch_table_test.ts checks the table against the TypeScript models.

    python3 scripts/arch_table.py FILE.safetensors   # the file's tensors against its header's spec
    python3 scripts/arch_table.py --spec '{"arch": "prn18", "width": 16, "inputShape": [32, 32, 3], ...}'
        prints the table as JSON: [[name, tfjs shape], ...] (several specs: a JSON list of them)
"""
import json
import sys

BN_EPS = 1e-5


class UnknownArchitecture(ValueError):
    pass


class _Table:
    """Tensors in the TypeScript builders' order: parameters as added, buffers as BatchNorms are."""

    def __init__(self):
        self.params, self.buffers = [], []

    def conv(self, name, k, cin, cout):
        self.params.append((name, [k, k, cin, cout]))

    def bn(self, name, c):
        self.params += [(f"{name}.weight", [c]), (f"{name}.bias", [c])]
        self.buffers += [(f"{name}.running_mean", [c]), (f"{name}.running_var", [c])]

    def linear(self, name, cin, cout):
        self.params += [(f"{name}.weight", [cin, cout]), (f"{name}.bias", [cout])]

    def preact_block(self, prefix, in_planes, planes, stride, shortcut):
        """lib/models/preact_block.ts: bn1, conv1 (3x3, stride), bn2, conv2, 1x1 shortcut if needed."""
        self.bn(f"{prefix}.bn1", in_planes)
        self.conv(f"{prefix}.conv1.weight", 3, in_planes, planes)
        self.bn(f"{prefix}.bn2", planes)
        self.conv(f"{prefix}.conv2.weight", 3, planes, planes)
        if stride != 1 or in_planes != planes:
            self.conv(f"{prefix}.{shortcut}.weight", 1, in_planes, planes)


def prn18_stages(width):
    """(planes, first stride) of PreActResNet-18's four stages."""
    return [(width, 1), (2 * width, 2), (4 * width, 2), (8 * width, 2)]


def smallcnn_widths(width):
    return [width, 2 * width, 4 * width]


WRN_DEPTH = 16
WRN_BLOCKS = (WRN_DEPTH - 4) // 6


def wrn16_groups(k):
    """(planes, first stride) of WRN-16-k's three groups."""
    return [(16 * k, 1), (32 * k, 2), (64 * k, 2)]


def _prn18(t, width, cin, classes):
    t.conv("conv1.weight", 3, cin, width)
    in_planes = width
    for i, (planes, stride) in enumerate(prn18_stages(width)):
        for j in range(2):
            t.preact_block(f"layer{i + 1}.{j}", in_planes, planes, stride if j == 0 else 1, "shortcut.0")
            in_planes = planes
    t.bn("bn", in_planes)
    t.linear("linear", in_planes, classes)


def _smallcnn(t, width, cin, classes):
    for i, cout in enumerate(smallcnn_widths(width)):
        t.conv(f"conv{i + 1}.weight", 3, cin, cout)
        t.bn(f"bn{i + 1}", cout)
        cin = cout
    t.linear("linear", cin, classes)


def _wrn16(t, k, cin, classes):
    t.conv("conv1.weight", 3, cin, 16)
    in_planes = 16
    for g, (planes, stride) in enumerate(wrn16_groups(k)):
        for j in range(WRN_BLOCKS):
            t.preact_block(f"block{g + 1}.layer.{j}", in_planes, planes, stride if j == 0 else 1,
                           "convShortcut")
            in_planes = planes
    t.bn("bn1", in_planes)
    t.linear("fc", in_planes, classes)


ARCHITECTURES = {"prn18": _prn18, "smallcnn": _smallcnn, "wrn16": _wrn16}


def tensors(spec):
    """[(name, tfjs shape), ...] of the model a spec describes, in the TypeScript model's order."""
    arch = spec.get("arch")
    if arch not in ARCHITECTURES:
        raise UnknownArchitecture(f"unknown architecture {json.dumps(arch)}: "
                                  f"known are {', '.join(ARCHITECTURES)}")
    t = _Table()
    ARCHITECTURES[arch](t, spec["width"], spec["inputShape"][2], spec["numClasses"])
    return t.params + t.buffers


def torch_shape(name, shape):
    """The tensor's shape in PyTorch: conv HWIO -> OIHW, linear [in, out] -> [out, in]."""
    if len(shape) == 4:
        return [shape[3], shape[2], shape[0], shape[1]]
    if len(shape) == 2 and name.endswith("weight"):
        return [shape[1], shape[0]]
    return list(shape)


def mismatch(spec, have):
    """Why tensors {name: tfjs shape} are not the model of `spec` (one phrase), or None when they are."""
    want = dict(tensors(spec))
    if set(want) != set(have):
        return f"tensor {sorted(set(want) ^ set(have))[0]} differs"
    for name, shape in want.items():
        if list(have[name]) != shape:
            return f"tensor {name} has shape {list(have[name])}, expected {shape}"
    return None


def main(argv):
    if len(argv) == 2 and argv[0] == "--spec":
        specs = json.loads(argv[1])
        one = isinstance(specs, dict)
        tables = [[[n, s] for n, s in tensors(sp)] for sp in ([specs] if one else specs)]
        print(json.dumps(tables[0] if one else tables))
        return 0
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    from model_file_check import ModelFileError, read_checked
    try:
        header, sam_at, _, _ = read_checked(argv[0])
        spec = sam_at["spec"]
        have = {k: v.get("shape") for k, v in header.items() if k != "__metadata__"}
        why = mismatch(spec, have)
    except (ModelFileError, UnknownArchitecture) as e:
        print(e, file=sys.stderr)
        return 2
    if why:
        print(f"{argv[0]} does not hold a {spec['arch']} width-{spec['width']} model ({why}).",
              file=sys.stderr)
        return 2
    print(f"{argv[0]}: {spec['arch']} width {spec['width']}, {len(have)} tensors as the table says.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
