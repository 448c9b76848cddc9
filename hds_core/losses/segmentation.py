"""Pixel-wise segmentation loss: cross-entropy, optionally plus soft Dice on the mass class."""

from __future__ import annotations

import torch
from torch.nn import functional as F

IGNORE_INDEX = 255  # mask value for pixels outside the image (padding): no loss there


def segmentation_loss(logits: torch.Tensor, mask: torch.Tensor, dice_weight: float = 0.0) -> torch.Tensor:
    """logits (B, 2, H, W); mask (B, H, W) long with 0/1 and IGNORE_INDEX."""
    loss = F.cross_entropy(logits.float(), mask, ignore_index=IGNORE_INDEX)
    if dice_weight > 0:
        loss = loss + dice_weight * soft_dice_loss(logits, mask)
    return loss


def soft_dice_loss(logits: torch.Tensor, mask: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice of the mass class over the whole batch (one ratio, not a mean of per-image
    ratios). Per image, a crop without a mass scores ~1 for any non-zero prediction, which
    teaches the network to predict nothing anywhere; over the batch, normal crops only add
    their false positives to the denominator."""
    valid = (mask != IGNORE_INDEX).float()
    probability = logits.float().softmax(dim=1)[:, 1] * valid
    target = (mask == 1).float()
    intersection = (probability * target).sum()
    total = probability.sum() + target.sum()
    return 1.0 - (2.0 * intersection + eps) / (total + eps)
