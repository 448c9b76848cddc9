"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant: ReLU6, no squeeze-excitation, a
fixed 32-channel stem) as a U-Net encoder: five stages ending at strides 2, 4, 8, 16 and 32.

Written here (not taken from timm, whose import needs torchvision) so that inference and the
bundle need nothing beyond torch. The ImageNet weights are mapped in by
:mod:`hds_core.nn.pretrained`; the module layout below is what its key map addresses:
``stages[s][p]`` is block ``BLOCKS`` number ``sum(len of earlier stages) + p``, with the stem
as ``stages[0][0]``. Differences from TensorFlow's graph, absorbed by fine-tuning: symmetric
padding (TensorFlow pads stride-2 convolutions asymmetrically, shifting by half a pixel) and
no drop-connect.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import EFFICIENTNET_SKIP_WIDTHS

# (expand ratio, kernel, stride, output width, repeats) per stage of the network; the
# encoder's stages group them by the stride their output ends at.
BLOCK_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
STEM_WIDTH = 32
BN_EPS = 1e-3  # TensorFlow's, which the ImageNet statistics were gathered with
# The network's stages grouped into the encoder's: outputs at strides 2, 4, 8, 16, 32.
ENCODER_GROUPS = ((0,), (1,), (2,), (3, 4), (5, 6))
SKIP_WIDTHS = EFFICIENTNET_SKIP_WIDTHS


def conv_bn(
    in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1, activation: bool = True
) -> nn.Sequential:
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels, eps=BN_EPS),
    ]
    if activation:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise kxk, linear 1x1 projection; identity
    shortcut where the shape is kept."""

    def __init__(self, in_channels: int, out_channels: int, expand: int, kernel: int, stride: int):
        super().__init__()
        hidden = in_channels * expand
        self.expand = conv_bn(in_channels, hidden, 1) if expand != 1 else nn.Identity()
        self.depthwise = conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = conv_bn(hidden, out_channels, 1, activation=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


def block_specs() -> list[tuple[int, int, int, int, int]]:
    """(input width, output width, expand, kernel, stride) of each of the 16 blocks in order."""
    specs, width = [], STEM_WIDTH
    for expand, kernel, stride, out, repeats in BLOCK_STAGES:
        for r in range(repeats):
            specs.append((width, out, expand, kernel, stride if r == 0 else 1))
            width = out
    return specs


def efficientnet_lite0_stages(in_channels: int) -> nn.ModuleList:
    """The encoder's five stages; the first starts with the stem (3x3, stride 2)."""
    specs = block_specs()
    starts = [sum(r for *_, r in BLOCK_STAGES[:k]) for k in range(len(BLOCK_STAGES) + 1)]
    stages = nn.ModuleList()
    for g, group in enumerate(ENCODER_GROUPS):
        blocks = [conv_bn(in_channels, STEM_WIDTH, 3, 2)] if g == 0 else []
        for k in group:
            blocks += [MBConv(i, o, e, kern, s) for i, o, e, kern, s in specs[starts[k] : starts[k + 1]]]
        stages.append(nn.Sequential(*blocks))
    return stages


def block_positions() -> list[tuple[int, int]]:
    """(stage, position in the stage) of each of the 16 blocks, in the network's order."""
    positions = []
    for g, group in enumerate(ENCODER_GROUPS):
        position = 1 if g == 0 else 0  # the stem comes first in stage 0
        for k in group:
            for _ in range(BLOCK_STAGES[k][4]):
                positions.append((g, position))
                position += 1
    return positions
