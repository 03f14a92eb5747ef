"""The PyTorch modules of the architectures in scripts/arch_table.py, built from a model spec.

    from torch_models import build       # with scripts/ on sys.path; needs torch
    model = build(spec)                  # spec as a model file's header records it (sam_at.spec)

Used by scripts/load_model.py (a model file rebuilt from its header) and bench/peer_torch.py (the
benchmark's peer), so neither restates an architecture. Each module computes what
lib/models/model.ts computes: normalisation inside forward (x * (1/std) + (-mean/std)), 3x3 convs
padded 1 on every side (stride 1 and 2), 1x1 shortcut convs unpadded, no conv bias, BatchNorm with
eps 1e-5, ReLU, 2x2 max pools (floor), global average pooling, linear with bias. Parameter names
are the model file's tensor names; every module built is checked against arch_table's names and
shapes (PyTorch layout), so the modules and the table, which tests/arch_table_test.ts checks
against the TypeScript models, cannot drift apart.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from arch_table import (BN_EPS, WRN_BLOCKS, UnknownArchitecture, prn18_stages, smallcnn_widths,
                        tensors, torch_shape, wrn16_groups)


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
    """lib/models/preact_block.ts: relu(bn1(x)) -> conv1 -> relu(bn2) -> conv2, plus the shortcut:
    x, or a 1x1 conv of relu(bn1(x)) where the shape changes (named `shortcut.0` in PreActResNet-18,
    `convShortcut` in RobustBench's WideResNet)."""

    def __init__(self, in_planes, planes, stride, shortcut="shortcut"):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes, eps=BN_EPS)
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes, eps=BN_EPS)
        self.conv2 = conv3x3(planes, planes)
        self.shortcut_name = None
        if stride != 1 or in_planes != planes:
            conv = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
            self.shortcut_name = shortcut
            setattr(self, shortcut, nn.Sequential(conv) if shortcut == "shortcut" else conv)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        shortcut = getattr(self, self.shortcut_name)(a) if self.shortcut_name else x
        return self.conv2(F.relu(self.bn2(self.conv1(a)))) + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, width, in_channels, num_classes, mean, std):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.conv1 = conv3x3(in_channels, width)
        cin = width
        for i, (planes, stride) in enumerate(prn18_stages(width)):
            blocks = []
            for s in (stride, 1):
                blocks.append(PreActBlock(cin, planes, s))
                cin = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.bn = nn.BatchNorm2d(cin, eps=BN_EPS)
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        out = self.conv1(self.normalize(x))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(F.relu(self.bn(out)).mean((2, 3)))


class SmallCnn(nn.Module):
    def __init__(self, width, in_channels, num_classes, mean, std):
        super().__init__()
        self.normalize = Normalize(mean, std)
        cin = in_channels
        for i, cout in enumerate(smallcnn_widths(width)):
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


class _WrnGroup(nn.Module):
    """RobustBench's NetworkBlock: its blocks under `layer`."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.layer = nn.Sequential(*[
            PreActBlock(in_planes if j == 0 else planes, planes, stride if j == 0 else 1, "convShortcut")
            for j in range(WRN_BLOCKS)])

    def forward(self, x):
        return self.layer(x)


class WideResNet16(nn.Module):
    """WRN-16-k (k = width) in RobustBench's layout, no dropout (lib/models/wide_resnet.ts)."""

    def __init__(self, width, in_channels, num_classes, mean, std):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.conv1 = conv3x3(in_channels, 16)
        cin = 16
        for g, (planes, stride) in enumerate(wrn16_groups(width)):
            setattr(self, f"block{g + 1}", _WrnGroup(cin, planes, stride))
            cin = planes
        self.bn1 = nn.BatchNorm2d(cin, eps=BN_EPS)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        out = self.block3(self.block2(self.block1(self.conv1(self.normalize(x)))))
        return self.fc(F.relu(self.bn1(out)).mean((2, 3)))


MODULES = {"prn18": PreActResNet18, "smallcnn": SmallCnn, "wrn16": WideResNet16}


def state_shapes(model):
    """{name: shape} of a module's state, as a model file names its tensors."""
    return {k: list(v.shape) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def build(spec):
    """The module of a model spec (arch, width, inputShape [H, W, C], numClasses, mean, std),
    freshly initialised by PyTorch, in train mode; checked against scripts/arch_table.py."""
    want = {n: torch_shape(n, s) for n, s in tensors(spec)}  # UnknownArchitecture for a new name
    if spec["arch"] not in MODULES:
        raise UnknownArchitecture(f"architecture {spec['arch']} is in scripts/arch_table.py but has "
                                  "no PyTorch module in scripts/torch_models.py")
    model = MODULES[spec["arch"]](spec["width"], spec["inputShape"][2], spec["numClasses"],
                                  spec["mean"], spec["std"])
    have = state_shapes(model)
    if have != want:
        diff = sorted(set(have) ^ set(want)) or [k for k in want if have[k] != want[k]]
        raise AssertionError(f"scripts/torch_models.py's {spec['arch']} differs from scripts/arch_table.py "
                             f"at tensor {diff[0]}")
    return model
