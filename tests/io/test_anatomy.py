"""The pectoral muscle on MLO phantoms (chest wall on the left)."""

import numpy as np
from scipy import ndimage

from hds_core.io import breast_mask
from hds_core.io.anatomy import pectoral_mask


def mlo_phantom(shape=(240, 160), *, muscle=True, seed=0):
    """A breast (half-ellipse from the chest wall) of textured tissue, with a brighter
    triangle from the top of the chest wall (apex on the top edge at 40% of the width, lower
    corner on the chest wall at 55% of the height): returns (image, true muscle mask)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w]
    breast = ((rows - h * 0.45) / (h * 0.6)) ** 2 + (cols / (w * 0.85)) ** 2 <= 1.0
    texture = ndimage.gaussian_filter(rng.normal(size=shape), 2)
    values = np.where(breast, 0.4 + 0.15 * texture / np.abs(texture).max(), 0.02)
    truth = breast & (cols < 0.4 * w * (1 - rows / (0.55 * h)))
    if muscle:
        values = np.where(truth, 0.8 + 0.05 * texture / np.abs(texture).max(), values)
    return values.astype(np.float32), truth if muscle else np.zeros(shape, dtype=bool)


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_the_muscle_of_an_mlo_phantom_is_found():
    for seed in range(3):
        image, truth = mlo_phantom(seed=seed)
        found = pectoral_mask(image, breast_mask(image))
        assert iou(found, truth) > 0.8, seed


def test_no_muscle_no_mask():
    image, _ = mlo_phantom(muscle=False)
    assert not pectoral_mask(image, breast_mask(image)).any()


def test_dense_tissue_away_from_the_chest_wall_is_not_a_muscle():
    image, _ = mlo_phantom(muscle=False, seed=4)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    image = np.where(np.hypot(rows - 110, cols - 80) < 25, 0.85, image).astype(np.float32)
    assert not pectoral_mask(image, breast_mask(image)).any()


def test_suppression_removes_marks_on_the_muscle_and_outside_the_breast_only():
    from hds_core.infer.forward import ExitResult
    from hds_core.infer.suppression import excluded_region, suppress

    image, truth = mlo_phantom(seed=1)
    breast = breast_mask(image)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    mass = np.hypot(rows - 150, cols - 60) < 10  # inside the breast, below the muscle
    outside = ~breast & (np.hypot(rows - 20, cols - 150) < 8)  # a film label's corner
    probability = np.where(truth | mass | outside, 0.9, 0.05).astype(np.float32)
    result = ExitResult(probability=probability, mil_probability=0.7)

    both = suppress(result, excluded_region(image, breast, "MLO", ["breast", "pectoral"]))
    assert both.probability[mass].min() == np.float32(0.9)
    assert both.probability[truth].mean() < 0.2 and both.probability[outside].max() == 0
    assert both.mil_probability == 0.7 and result.probability[truth].min() == np.float32(0.9)  # a copy
    # A CC view has no muscle: only the breast mask applies; nothing asked, nothing removed.
    cc = suppress(result, excluded_region(image, breast, "CC", ["breast", "pectoral"]))
    assert cc.probability[truth].min() == np.float32(0.9) and cc.probability[outside].max() == 0
    assert suppress(result, excluded_region(image, breast, "MLO", [])) is result
