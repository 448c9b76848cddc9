"""All regions' outlines at once (findings/rings.py) against scikit-image on each region alone."""

import numpy as np
import pytest
from scipy import ndimage
from skimage import measure

from hds_core.findings.lesions import find_lesions
from hds_core.findings.rings import outer_rings
from hds_core.network_input import Geometry


def _alone(values, labels, level):
    """What find_lesions did per region: find_contours on the region's padded box, the longest ring."""
    rings = {}
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        if rows is None:
            continue
        inside = labels[rows, cols] == label
        contours = measure.find_contours(np.pad(np.where(inside, values[rows, cols], 0.0), 1), level)
        rings[label] = max(contours, key=len) + np.array([rows.start - 1, cols.start - 1])
    return rings


def _map(rng, shape):
    kind = rng.integers(0, 3)
    if kind == 0:  # smooth blobs with holes and necks
        values = ndimage.gaussian_filter(rng.random(shape), sigma=float(rng.uniform(1, 6)))
    elif kind == 1:  # speckle: one-pixel regions, diagonal neighbours, saddles everywhere
        values = rng.random(shape)
    else:  # blobs running off every edge of the map
        values = ndimage.gaussian_filter(rng.random(shape), sigma=2.0)
        values[:, :2] = values[:2, :] = values[-2:, :] = values[:, -2:] = values.max()
    values = (values - values.min()) / (values.max() - values.min() + 1e-9)
    return values.astype(np.float32)


@pytest.mark.parametrize("seed", range(30))
def test_every_ring_is_the_one_scikit_image_traces_on_its_region_alone(seed):
    rng = np.random.default_rng(seed)
    values = _map(rng, (int(rng.integers(3, 120)), int(rng.integers(3, 120))))
    for level in rng.uniform(0.05, 0.95, 6):
        level = float(level)
        labels = measure.label(values >= level, connectivity=2)
        rings = outer_rings(values, labels, np.arange(1, labels.max() + 1), level, ndimage.find_objects(labels))
        if rings is None:  # a pixel exactly at the level: not here
            continue
        reference = _alone(values, labels, level)
        assert list(rings) == list(reference)
        for label, ring in reference.items():
            np.testing.assert_array_equal(rings[label], ring)  # bit for bit, same start, same direction


def test_a_pixel_exactly_at_the_level_is_left_to_scikit_image():
    values = np.zeros((7, 7), np.float32)
    values[2:5, 2:5] = 0.7
    values[3, 4] = 0.5  # on the level: scikit-image drops the degenerate segments there
    labels = measure.label(values >= 0.5, connectivity=2)
    assert outer_rings(values, labels, np.array([1]), 0.5, ndimage.find_objects(labels)) is None
    geometry = Geometry((7, 7), (0, 7, 0, 7), (1.0, 1.0), False, (7, 7), 1.0, False)
    (lesion,) = find_lesions(values, 0.5, geometry, (1.0, 1.0))  # traced the old way, region by region
    np.testing.assert_array_equal(lesion.contour_xy[:, ::-1], _alone(values, labels, 0.5)[1])


def test_the_lesions_of_a_map_are_those_traced_region_by_region(monkeypatch):
    import hds_core.findings.lesions as lesions

    rng = np.random.default_rng(7)
    for trial in range(12):
        shape = (int(rng.integers(40, 200)), int(rng.integers(40, 160)))
        values = _map(rng, shape)
        geometry = Geometry(
            original_shape=(shape[0] * 5, shape[1] * 5),
            crop=(3, 3 + shape[0] * 4, 7, 7 + shape[1] * 4),
            scale=(0.25, 0.25),
            flipped=bool(trial % 2),
            working_shape=shape,
            working_spacing_mm=0.4,
            spacing_assumed=False,
        )
        for level in np.linspace(0.05, 0.95, 7):
            fast = find_lesions(values, float(level), geometry, (0.1, 0.1))
            with monkeypatch.context() as m:
                m.setattr(lesions, "outer_rings", lambda *_: None)
                slow = find_lesions(values, float(level), geometry, (0.1, 0.1))
            assert [lesion.to_dict() for lesion in fast] == [lesion.to_dict() for lesion in slow]
            for a, b in zip(fast, slow):
                np.testing.assert_array_equal(a.contour_xy, b.contour_xy)
