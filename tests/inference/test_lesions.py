"""Lesions from a map: specks below the smallest lesion are neither drawn nor counted."""

import numpy as np

from hds_core.eval.metrics import count_regions, segmentation_at
from hds_core.findings.lesions import MIN_LESION_AREA_MM2, find_lesions, min_region_pixels
from hds_core.network_input import Geometry


def test_specks_are_not_lesions_and_not_false_positives():
    geometry = Geometry(
        original_shape=(400, 400),
        crop=(0, 400, 0, 400),
        scale=(0.25, 0.25),
        flipped=False,
        working_shape=(100, 100),
        working_spacing_mm=0.8,
        spacing_assumed=False,
    )
    probability = np.zeros((100, 100), np.float32)
    probability[10:20, 10:20] = 0.9  # 100 px = 64 mm²: a lesion
    probability[50, 50] = 0.95  # one pixel = 0.64 mm²: a speck
    minimum = min_region_pixels(0.8)
    assert minimum * 0.64 >= MIN_LESION_AREA_MM2 > (minimum - 1) * 0.64
    lesions = find_lesions(probability, 0.5, geometry, (0.2, 0.2))
    assert len(lesions) == 1 and abs(lesions[0].area_mm2 - 64.0) < 1e-6
    assert count_regions(probability >= 0.5) == 2 and count_regions(probability >= 0.5, minimum) == 1
    normal_only = segmentation_at([probability], [np.zeros((100, 100), bool)], 0.5, minimum)
    assert normal_only["fp_regions_per_normal_image"] == 1.0
