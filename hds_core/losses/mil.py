"""Sparse multiple-instance classification loss (the HDS image-wise supervision)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

SPARSITY = 1e-6


def sparse_mil_loss(
    image_logits: torch.Tensor, instance_logits: torch.Tensor, labels: torch.Tensor, sparsity: float = SPARSITY
) -> torch.Tensor:
    """Cross-entropy of the most suspicious cell's logits against the image label, plus
    ``sparsity`` x (sum of foreground probabilities over all cells) / batch size, so that
    few cells fire."""
    loss = F.cross_entropy(image_logits.float(), labels)
    if sparsity > 0:
        foreground = instance_logits.float().softmax(dim=1)[:, 1]
        loss = loss + sparsity * foreground.sum() / image_logits.shape[0]
    return loss
