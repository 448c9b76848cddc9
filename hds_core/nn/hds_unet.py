"""Residual U-Net with Hybrid Deep Supervision (Zhang, Zhang & Chung, MICCAI-W 2018).

Two encoders (``HDSConfig.encoder``): ``residual``, the paper's (pre-activation residual
stages, max-pooling between them), and ``efficientnet-lite0``, an ImageNet-pretrainable
encoder (:mod:`.efficientnet_lite`) whose stages end at strides 2-32; the input itself is
then the stride-1 skip. The decoder and the six exits are the same for both.

Output contract (tested):
* ``model.train()``: ``forward`` returns an :class:`HDSOutput` with one entry per exit,
  deepest first (bottleneck, then the five decoder stages; the last is the full-resolution
  exit): segmentation logits (B, 2, H, W) at input size, MIL image logits (B, 2) and the
  per-cell instance logits (B, 2, ceil(H/128), ceil(W/128)).
* ``model.eval()``: the same structure with only the final exit (lists of length 1), and
  the auxiliary heads are not computed at all. ``all_exits=True`` forces every exit in
  eval mode (used to report metrics per exit).
Input height and width must be multiples of ``2 ** depth`` (32 for the paper's size);
:func:`pad_to_multiple` pads and reports the padding to crop back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import Down, PreActResBlock, SkipFusion, Stage, Up, bn_relu_conv1x1
from .config import HDSConfig
from .efficientnet_lite import efficientnet_lite0_stages


@dataclass
class HDSOutput:
    seg_logits: list[torch.Tensor] = field(default_factory=list)
    mil_logits: list[torch.Tensor] = field(default_factory=list)
    instance_logits: list[torch.Tensor] = field(default_factory=list)

    @property
    def final_seg(self) -> torch.Tensor:
        return self.seg_logits[-1]

    @property
    def final_mil(self) -> torch.Tensor:
        return self.mil_logits[-1]


class SegHead(nn.Module):
    """Residual block, then BN-ReLU-1x1 conv to the classes; upsampled to the input size."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.block = PreActResBlock(channels, channels)
        self.classify = bn_relu_conv1x1(channels, num_classes)
        self.classify[-1].bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        logits = self.classify(self.block(x))
        if logits.shape[-2:] != size:
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return logits


class MILHead(nn.Module):
    """Multiple-instance classification: pool the exit's features down to a grid whose cells
    cover ``mil_cell`` input pixels; each cell is an instance. The image's logits are those
    of the cell with the LOWEST background probability (the most suspicious patch)."""

    def __init__(self, channels: int, num_classes: int, reduction: int):
        super().__init__()
        steps = int(math.log2(reduction))
        # Pool first, then a residual block: each block runs at the reduced resolution.
        self.reduce = nn.Sequential(
            *[nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), PreActResBlock(channels, channels)) for _ in range(steps)]
        )
        self.classify = bn_relu_conv1x1(channels, num_classes)
        self.classify[-1].bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        instances = self.classify(self.reduce(x))  # (B, C, h, w)
        flat = instances.flatten(2)  # (B, C, h*w)
        background = flat.softmax(dim=1)[:, 0]  # (B, h*w)
        index = background.argmin(dim=1)  # most suspicious cell per image
        image_logits = flat.gather(2, index.view(-1, 1, 1).expand(-1, flat.shape[1], 1)).squeeze(2)
        return image_logits, instances


class HDSUNet(nn.Module):
    def __init__(self, config: HDSConfig | None = None):
        super().__init__()
        self.config = config = config or HDSConfig()
        depth = config.depth

        def dropout(stage_index: int, total: int) -> float:
            outer = stage_index < config.outer_stages or stage_index >= total - config.outer_stages
            return config.outer_dropout if outer else config.inner_dropout

        total_stages = 2 * depth + 1
        if config.encoder == "efficientnet-lite0":
            # Stages ending at strides 2..32, no pooling between them: downsampling is theirs.
            self.encoder = efficientnet_lite0_stages(config.in_channels)
            self.downs = None
            channels = config.encoder_out_width
        else:
            self.encoder = nn.ModuleList()
            self.downs = nn.ModuleList()
            channels = config.in_channels
            for i, width in enumerate(config.encoder_widths):
                self.encoder.append(Stage(channels, width, config.blocks_per_stage, dropout(i, total_stages)))
                next_width = config.encoder_widths[i + 1] if i + 1 < depth else config.bottleneck_width
                self.downs.append(Down(width, next_width))
                channels = next_width
        self.bottleneck = Stage(
            channels, config.bottleneck_width, config.blocks_per_stage, dropout(depth, total_stages)
        )
        channels = config.bottleneck_width

        self.ups = nn.ModuleList()
        self.fusions = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for j, width in enumerate(config.decoder_widths):
            skip_width = config.skip_widths[depth - 1 - j]
            self.ups.append(Up(channels, config.upsampler))
            self.fusions.append(SkipFusion(channels, skip_width))
            self.decoder.append(Stage(channels, width, config.blocks_per_stage, dropout(depth + 1 + j, total_stages)))
            channels = width

        exit_widths = [config.bottleneck_width, *config.decoder_widths]
        exit_scales = [2 ** (depth - k) for k in range(depth + 1)]  # input pixels per feature pixel
        self.seg_heads = nn.ModuleList(SegHead(w, config.num_classes) for w in exit_widths)
        self.mil_heads = nn.ModuleList(
            MILHead(w, config.num_classes, config.mil_cell // s) for w, s in zip(exit_widths, exit_scales)
        )

    def forward(self, x: torch.Tensor, all_exits: bool | None = None) -> HDSOutput:
        if all_exits is None:
            all_exits = self.training
        multiple = self.config.size_multiple
        if x.shape[-2] % multiple or x.shape[-1] % multiple:
            raise ValueError(
                f"input {tuple(x.shape[-2:])} must be a multiple of {multiple} in height and width; "
                f"use pad_to_multiple (it would pad to {tuple(_round_up(s, multiple) for s in x.shape[-2:])})"
            )
        size = tuple(x.shape[-2:])
        skips, x = self._encode(x)
        x = self.bottleneck(x)
        features = [x]
        for up, fusion, stage, skip in zip(self.ups, self.fusions, self.decoder, reversed(skips)):
            x = stage(fusion(up(x), skip))
            features.append(x)

        exits = range(len(features)) if all_exits else [len(features) - 1]
        output = HDSOutput()
        for k in exits:
            output.seg_logits.append(self.seg_heads[k](features[k], size))
            image_logits, instances = self.mil_heads[k](features[k])
            output.mil_logits.append(image_logits)
            output.instance_logits.append(instances)
        return output

    def _encode(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The skips, finest first, and the deepest features."""
        skips = []
        if self.downs is None:  # a strided encoder: each stage's output is the next skip
            for stage in self.encoder:
                skips.append(x)
                x = stage(x)
            return skips, x
        for stage, down in zip(self.encoder, self.downs):
            x = stage(x)
            skips.append(x)
            x = down(x)
        return skips, x


def _round_up(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple


def pad_to_multiple(x: torch.Tensor, multiple: int, value: float = 0.0) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad the bottom and right of (…, H, W) to multiples; returns the padded tensor and (H, W)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = _round_up(height, multiple) - height, _round_up(width, multiple) - width
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), value=value)
    return x, (height, width)
