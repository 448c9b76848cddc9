"""Segmentation, sparse-MIL and deep-supervision losses; the HDS decay schedule; modes."""

import pytest
import torch

from hds_core.losses import IGNORE_INDEX, DeepSupervisionLoss, segmentation_loss, soft_dice_loss, sparse_mil_loss
from hds_core.nn import HDSOutput


def test_decay_schedule_reaches_the_published_ratios():
    loss = DeepSupervisionLoss()
    seg0, cls0 = loss.weights(0, 10)
    seg9, cls9 = loss.weights(9, 10)
    assert seg0 == [3.5, 3.0, 2.5, 2.0, 1.5, 1.0] and cls0 == seg0
    assert seg9[:-1] == pytest.approx([w * 0.005 for w in seg0[:-1]])
    assert cls9[:-1] == pytest.approx([w * 0.05 for w in cls0[:-1]])
    assert seg9[-1] == cls9[-1] == 1.0


def test_modes_switch_off_what_they_should():
    seg, cls = DeepSupervisionLoss(mode="ds-seg").weights(0, 5)
    assert all(w > 0 for w in seg) and all(w == 0 for w in cls)
    seg, cls = DeepSupervisionLoss(mode="seg").weights(0, 5)
    assert seg == [0, 0, 0, 0, 0, 1.0] and all(w == 0 for w in cls)
    with pytest.raises(ValueError):
        DeepSupervisionLoss(mode="cls")


def test_ignore_index_pixels_carry_no_loss():
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, 1, 0, 0] = 10.0  # confidently wrong on one pixel
    mask = torch.zeros(1, 2, 2, dtype=torch.long)
    with_pixel = segmentation_loss(logits, mask)
    mask[0, 0, 0] = IGNORE_INDEX
    assert segmentation_loss(logits, mask) < with_pixel


def test_soft_dice_is_zero_for_a_perfect_prediction():
    mask = torch.zeros(1, 8, 8, dtype=torch.long)
    mask[0, 2:5, 2:5] = 1
    logits = torch.stack([(1 - mask).float() * 50, mask.float() * 50], dim=1)
    assert float(soft_dice_loss(logits, mask)) == pytest.approx(0.0, abs=0.1)


def test_sparse_mil_adds_the_sparsity_term():
    image_logits = torch.tensor([[0.0, 1.0]])
    instances = torch.zeros(1, 2, 4, 4)
    labels = torch.tensor([1])
    plain = sparse_mil_loss(image_logits, instances, labels, sparsity=0.0)
    sparse = sparse_mil_loss(image_logits, instances, labels, sparsity=0.1)
    assert float(sparse - plain) == pytest.approx(0.1 * 16 * 0.5)


def test_wrapper_needs_all_exits_and_sums_weighted_parts():
    out = HDSOutput([torch.zeros(1, 2, 4, 4)] * 6, [torch.zeros(1, 2)] * 6, [torch.zeros(1, 2, 1, 1)] * 6)
    mask = torch.zeros(1, 4, 4, dtype=torch.long)
    total, parts = DeepSupervisionLoss(sparsity=0)(out, mask, torch.tensor([0]), 0, 10)
    ln2 = torch.log(torch.tensor(2.0)).item()
    assert float(total) == pytest.approx(13.5 * ln2 + 0.03 * 13.5 * ln2, rel=1e-5)
    assert set(parts) == {f"seg{k}" for k in range(6)} | {f"cls{k}" for k in range(6)}
    with pytest.raises(ValueError):
        DeepSupervisionLoss()(
            HDSOutput([torch.zeros(1, 2, 4, 4)], [torch.zeros(1, 2)], [torch.zeros(1, 2, 1, 1)]),
            mask,
            torch.tensor([0]),
            0,
            10,
        )


def test_soft_dice_is_over_the_batch_so_normal_crops_do_not_demand_an_empty_map():
    # One crop with a mass predicted perfectly, one normal crop with a faint response:
    # per-image Dice would charge the normal crop ~1; over the batch it costs little.
    mask = torch.zeros(2, 16, 16, dtype=torch.long)
    mask[0, 4:12, 4:12] = 1
    logits = torch.zeros(2, 2, 16, 16)
    logits[:, 0] = 6.0
    logits[0, 1, 4:12, 4:12] = 12.0
    logits[1, 1, 0:2, 0:2] = 12.0  # 4 false-positive pixels on the normal crop
    assert float(soft_dice_loss(logits, mask)) < 0.05
