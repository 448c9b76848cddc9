"""Known answers for the metrics, computed by hand (not by the code under test): a metric
that is wrong in a way that is still self-consistent (1 - AUC, swapped sensitivity and
specificity, Dice of the union) fails here."""

import numpy as np
import pytest

from hds_core.eval.metrics import classification_at, count_regions, dice, roc_auc, segmentation_at


def test_auc_is_the_probability_a_positive_outranks_a_negative():
    # The textbook example: of the 4 positive-negative pairs, 3 are ordered right.
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    # Ties count half: one tied pair of four.
    assert roc_auc([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0]) == pytest.approx((0.5 + 1 + 1 + 1) / 4)
    assert roc_auc([0.3, 0.6], [1, 1]) is None  # no negatives: undefined, not 0 or 1


def test_sensitivity_specificity_and_accuracy_at_a_threshold():
    scores = [0.9, 0.6, 0.4, 0.7, 0.2, 0.1]
    labels = [1, 1, 1, 0, 0, 0]
    result = classification_at(scores, labels, 0.5)
    # Positives called: 0.9, 0.6 (0.4 missed); negatives called positive: 0.7.
    assert (result["tp"], result["fn"], result["fp"], result["tn"]) == (2, 1, 1, 2)
    assert result["sensitivity"] == pytest.approx(2 / 3) and result["specificity"] == pytest.approx(2 / 3)
    assert result["image_accuracy"] == pytest.approx(4 / 6)
    at_edge = classification_at([0.5, 0.49], [1, 0], 0.5)  # a score equal to the threshold is positive
    assert (at_edge["sensitivity"], at_edge["specificity"]) == (1.0, 1.0)
    assert classification_at([0.9, 0.8], [0, 0], 0.5)["sensitivity"] is None


def test_dice_known_answers():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[0:4, 0:5] = True  # 20 pixels
    b[2:6, 0:5] = True  # 20 pixels, 10 shared
    assert dice(a, b) == pytest.approx(2 * 10 / 40)
    assert dice(a, a) == 1.0 and dice(a, ~a) == 0.0
    assert dice(np.zeros_like(a), np.zeros_like(a)) == 1.0  # both empty: agreement


def test_segmentation_metrics_count_false_regions_on_normal_images_only():
    mass = np.zeros((8, 8), bool)
    mass[2:4, 2:4] = True
    found = np.where(mass, 0.9, 0.1)
    normal = np.full((8, 8), 0.1)
    normal[0, 0] = normal[7, 7] = 0.8  # two separate false regions
    normal[5, 0] = normal[6, 0] = 0.8  # a third one, of two pixels
    result = segmentation_at([found, normal], [mass, np.zeros((8, 8), bool)], 0.5)
    assert result["dice_mass_images"] == 1.0
    assert result["fp_regions_per_normal_image"] == 3.0
    assert (
        segmentation_at([found, normal], [mass, np.zeros((8, 8), bool)], 0.5, min_region_pixels=2)[
            "fp_regions_per_normal_image"
        ]
        == 1.0
    )
    assert count_regions(normal >= 0.5) == 3
