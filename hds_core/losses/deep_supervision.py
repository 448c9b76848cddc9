"""Deep-supervision weighting over the six exits, with the HDS decay schedule and the
training modes of the ablation.

Total = seg_factor * sum_k a_k SegLoss_k + cls_factor * sum_k b_k ClsLoss_k, deepest exit
first. After each epoch the auxiliary weights (all but the final exit) are multiplied by a
decay chosen so that at the last epoch they reach ``seg_final_ratio`` (segmentation) and
``cls_final_ratio`` (classification) of their start; the final exit keeps weight 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nn import HDSOutput
from .mil import SPARSITY, sparse_mil_loss
from .segmentation import segmentation_loss

MODES = ("hds", "ds-seg", "seg")
PAPER_EXIT_WEIGHTS = (3.5, 3.0, 2.5, 2.0, 1.5, 1.0)


@dataclass
class DeepSupervisionLoss:
    mode: str = "hds"
    exit_weights: tuple[float, ...] = PAPER_EXIT_WEIGHTS
    seg_factor: float = 1.0
    cls_factor: float = 0.03
    seg_final_ratio: float = 0.005
    cls_final_ratio: float = 0.05
    dice_weight: float = 0.0
    sparsity: float = SPARSITY

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"training mode must be one of {MODES}, got {self.mode!r}")
        self.exit_weights = tuple(self.exit_weights)

    def weights(self, epoch: int, total_epochs: int) -> tuple[list[float], list[float]]:
        """(segmentation, classification) weight per exit at ``epoch`` (0-based)."""
        n = len(self.exit_weights)
        progress = epoch / max(total_epochs - 1, 1)
        seg_decay = self.seg_final_ratio**progress
        cls_decay = self.cls_final_ratio**progress
        seg = [w * seg_decay for w in self.exit_weights[:-1]] + [1.0]
        cls = [w * cls_decay for w in self.exit_weights[:-1]] + [1.0]
        if self.mode == "seg":
            seg = [0.0] * (n - 1) + [1.0]
        if self.mode != "hds":
            cls = [0.0] * n
        return seg, cls

    def __call__(
        self, output: HDSOutput, mask: torch.Tensor, labels: torch.Tensor, epoch: int, total_epochs: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        if len(output.seg_logits) != len(self.exit_weights):
            raise ValueError(
                f"{len(output.seg_logits)} exits in the output but {len(self.exit_weights)} exit weights; "
                "call the network in training mode (all exits)"
            )
        seg_w, cls_w = self.weights(epoch, total_epochs)
        total = output.seg_logits[-1].new_zeros((), dtype=torch.float32)
        parts: dict[str, float] = {}
        for k, (seg_logits, image_logits, instances) in enumerate(
            zip(output.seg_logits, output.mil_logits, output.instance_logits)
        ):
            if seg_w[k] > 0:
                seg = segmentation_loss(seg_logits, mask, self.dice_weight)
                total = total + self.seg_factor * seg_w[k] * seg
                parts[f"seg{k}"] = float(seg.detach())
            if cls_w[k] > 0:
                cls = sparse_mil_loss(image_logits, instances, labels, self.sparsity)
                total = total + self.cls_factor * cls_w[k] * cls
                parts[f"cls{k}"] = float(cls.detach())
        return total, parts
