"""An inference-only copy of the network, faster on CPU and numerically equivalent.

Measured on the paper-size network at 832x736, 2 CPU threads, fp32 (tests/benchmarks):
channels-last layout (oneDNN's fast convolution path) 3.16 s -> 1.77 s; folding each
residual block's second BatchNorm into the convolution right before it -> 1.67 s; outputs
agree to ~1e-5. Not used: flush-to-zero of denormals (no gain in an A/B run, and it is
process-wide), TorchScript optimize_for_inference (2.30 s), torch.compile (1.61 s but
160 s to compile and ~85 s again for each new image size).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..nn import HDSUNet
from ..nn.blocks import PreActResBlock


@torch.no_grad()
def fold_block_batchnorm(block: PreActResBlock) -> None:
    """conv1 -> bn2 becomes one convolution with a bias (exact for eval-mode BatchNorm).
    bn1 cannot be folded: it acts on the residual sum, before a ReLU."""
    bn, conv = block.bn2, block.conv1
    if not isinstance(bn, nn.BatchNorm2d):
        return
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    conv.weight.mul_(scale[:, None, None, None])
    conv.bias = nn.Parameter(bias.clone())
    block.bn2 = nn.Identity()


def inference_copy(model: HDSUNet) -> HDSUNet:
    """A folded, channels-last, eval-mode copy; ``model`` itself is left untouched."""
    fast = copy.deepcopy(model).eval()
    for module in fast.modules():
        if isinstance(module, PreActResBlock):
            fold_block_batchnorm(module)
    return fast.to(memory_format=torch.channels_last)


def is_channels_last(model: nn.Module) -> bool:
    for parameter in model.parameters():
        # A tensor with one input channel is "channels-last" in either layout: skip it.
        if parameter.dim() == 4 and parameter.shape[1] > 1 and parameter.shape[2] * parameter.shape[3] > 1:
            return parameter.is_contiguous(memory_format=torch.channels_last) and not parameter.is_contiguous()
    return False
