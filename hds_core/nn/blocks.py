"""Building blocks of the residual U-Net (pre-activation residual blocks, He et al. 2016)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def bn_relu_conv1x1(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True), nn.Conv2d(in_channels, out_channels, 1, bias=False)
    )


class PreActResBlock(nn.Module):
    """BN-ReLU-Conv3x3-BN-ReLU-[Dropout]-Conv3x3 plus identity (or 1x1 projection)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.shortcut = (
            nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In-place ReLU on the BatchNorm's fresh output saves a full-size allocation per call
        # (BatchNorm's backward does not need its output, so this is safe in training too).
        out = self.conv1(F.relu(self.bn1(x), inplace=True))
        out = self.bn2(out)
        # After BatchNorm folding (inference) bn2 is the identity: conv1's output is then
        # still needed by nothing else, so in-place stays safe.
        out = self.conv2(self.dropout(F.relu(out, inplace=True)))
        return out + self.shortcut(x)


class Stage(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, blocks: int, dropout: float):
        super().__init__(
            *[PreActResBlock(in_channels if i == 0 else out_channels, out_channels, dropout) for i in range(blocks)]
        )


class Down(nn.Module):
    """2x2 max-pool, with a BN-ReLU-1x1 conv first where the width changes."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.project = nn.Identity() if in_channels == out_channels else bn_relu_conv1x1(in_channels, out_channels)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.project(x))


class Up(nn.Module):
    """x2 upsampling: bilinear (the published run) or a 2x2 transposed convolution."""

    def __init__(self, channels: int, mode: str = "bilinear"):
        super().__init__()
        if mode not in ("bilinear", "transposed"):
            raise ValueError(f"upsampler must be 'bilinear' or 'transposed', got {mode!r}")
        self.mode = mode
        self.deconv = nn.ConvTranspose2d(channels, channels, 2, stride=2) if mode == "transposed" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deconv is not None:
            return self.deconv(x)
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class SkipFusion(nn.Module):
    """Concatenate decoder and encoder features, then BN-ReLU-1x1 conv back to the decoder width."""

    def __init__(self, decoder_channels: int, encoder_channels: int):
        super().__init__()
        self.fuse = bn_relu_conv1x1(decoder_channels + encoder_channels, decoder_channels)

    def forward(self, decoder: torch.Tensor, encoder: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([decoder, encoder], dim=1))
