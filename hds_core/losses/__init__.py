"""Losses: pixel cross-entropy (+ optional Dice), sparse MIL classification, and the
deep-supervision wrapper with the HDS schedule and the ablation modes."""

from .deep_supervision import MODES, PAPER_EXIT_WEIGHTS, DeepSupervisionLoss
from .mil import sparse_mil_loss
from .segmentation import IGNORE_INDEX, segmentation_loss, soft_dice_loss

__all__ = [
    "IGNORE_INDEX",
    "MODES",
    "PAPER_EXIT_WEIGHTS",
    "DeepSupervisionLoss",
    "segmentation_loss",
    "soft_dice_loss",
    "sparse_mil_loss",
]
