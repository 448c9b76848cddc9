"""All regions measured and outlined at once (findings/rings.py, compiled in _outline.c) against
scikit-image and NumPy on each region alone."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from skimage import measure

from hds_core.findings.lesions import find_lesions, min_region_pixels
from hds_core.findings.rings import longest_chords, trace_regions
from hds_core.network_input import Geometry


def _longest_chord(points: np.ndarray) -> float:
    """The largest distance between two of ``points``, as find_lesions measured it ring by ring:
    the convex hull's vertices first when there are many, then every pair."""
    if len(points) < 2:
        return 0.0
    if len(points) > 160:
        try:
            points = points[ConvexHull(points).vertices]
        except (QhullError, ValueError):
            pass
    deltas = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((deltas**2).sum(-1)).max())


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
        regions = trace_regions(values, level, 1)
        if regions.rings is None:  # a pixel exactly at the level: not here
            continue
        rings = regions.rings.as_dict()
        reference = _alone(values, labels, level)
        assert list(rings) == list(reference)  # the same regions, numbered alike
        for label, ring in reference.items():
            np.testing.assert_array_equal(rings[label], ring)  # bit for bit, same start, same direction
        sizes = np.bincount(labels.ravel())
        assert regions.counts.tolist() == sizes[regions.labels].tolist()
        for i, label in enumerate(regions.labels):
            inside = labels == label
            assert regions.maxima[i] == values[inside].max()
            assert regions.means[i] == pytest.approx(values[inside].astype(np.float64).mean(), abs=1e-12)
            np.testing.assert_array_equal(regions.centroids[i], np.argwhere(inside).mean(axis=0))


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (2, 2), (6, 9)])
@pytest.mark.parametrize("fill", ["none", "all", "checkerboard"])
def test_maps_of_every_shape_and_filling(shape, fill):
    values = np.full(shape, 0.2, np.float32)
    if fill == "all":
        values[:] = 0.9
    elif fill == "checkerboard":  # diagonal neighbours: one region, rings one per pixel
        values[(np.indices(shape).sum(axis=0) % 2) == 0] = 0.9
    labels = measure.label(values >= 0.5, connectivity=2)
    regions = trace_regions(values, 0.5, 1)
    reference = _alone(values, labels, 0.5)
    assert list(regions.rings.as_dict()) == list(reference)
    for label, ring in reference.items():
        np.testing.assert_array_equal(regions.rings.as_dict()[label], ring)
    assert len(trace_regions(values, 0.5, values.size + 1)) == 0  # all specks


def test_a_wrong_buffer_is_refused_not_read_past():
    from hds_core.findings import _outline

    with pytest.raises(ValueError):
        _outline.trace(np.zeros(10, np.float32), 4, 4, 0.5, 1)
    with pytest.raises(ValueError):
        _outline.chords(np.zeros((3, 2)), np.array([4], np.int64))


def test_a_pixel_exactly_at_the_level_is_left_to_scikit_image():
    values = np.zeros((7, 7), np.float32)
    values[2:5, 2:5] = 0.7
    values[3, 4] = 0.5  # on the level: scikit-image drops the degenerate segments there
    labels = measure.label(values >= 0.5, connectivity=2)
    regions = trace_regions(values, 0.5, 1)
    assert regions.rings is None and regions.counts.tolist() == [9]  # measured, not traced
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
                # as when a pixel lies exactly at the level: every region traced on its own
                m.setattr(lesions, "trace_regions", lambda *a: dataclasses.replace(trace_regions(*a), rings=None))
                slow = find_lesions(values, float(level), geometry, (0.1, 0.1))
            assert [lesion.to_dict() for lesion in fast] == [lesion.to_dict() for lesion in slow]
            for a, b in zip(fast, slow):
                np.testing.assert_array_equal(a.contour_xy, b.contour_xy)


def _measured_alone(values, threshold, geometry, spacing_mm):
    """What find_lesions measured region by region before it measured all regions together."""
    labels = measure.label(values >= threshold, connectivity=2)
    sizes = np.bincount(labels.ravel())
    found = []
    for label, ring in _alone(values, labels, threshold).items():
        if sizes[label] < min_region_pixels(geometry.working_spacing_mm):
            continue
        rows, cols = ndimage.find_objects(labels)[label - 1]
        inside = labels[rows, cols] == label
        region_values = values[rows, cols][inside]
        original_rc = geometry.working_to_original(ring)
        centroid = geometry.working_to_original(((np.argwhere(inside) + [rows.start, cols.start]).mean(axis=0))[None])[
            0
        ]
        found.append(
            {
                "contour_xy": original_rc[:, ::-1],
                "max_probability": float(region_values.max()),
                "mean_probability": float(region_values.astype(np.float64).mean()),
                "area_mm2": int(sizes[label]) * geometry.working_spacing_mm**2,
                "longest_diameter_mm": _longest_chord(original_rc * np.asarray(spacing_mm)),
                "centroid_xy": (float(centroid[1]), float(centroid[0])),
            }
        )
    return sorted(found, key=lambda lesion: -lesion["max_probability"])


@pytest.mark.parametrize("seed", range(12))
def test_every_region_measured_together_as_it_was_alone(seed):
    rng = np.random.default_rng(100 + seed)
    shape = (int(rng.integers(30, 220)), int(rng.integers(30, 180)))
    values = _map(rng, shape)
    geometry = Geometry(
        (shape[0] * 4, shape[1] * 4),
        (0, shape[0] * 4, 0, shape[1] * 4),
        (0.25, 0.25),
        bool(seed % 2),
        shape,
        0.5,
        False,
    )
    for level in rng.uniform(0.05, 0.95, 5):
        together = find_lesions(values, float(level), geometry, (0.125, 0.1))
        alone = _measured_alone(values, float(level), geometry, (0.125, 0.1))
        assert len(together) == len(alone)
        for index, (lesion, reference) in enumerate(zip(together, alone), start=1):
            assert lesion.index == index
            np.testing.assert_array_equal(lesion.contour_xy, reference["contour_xy"])
            x, y = reference["contour_xy"].min(axis=0)
            assert lesion.bbox_xywh == (x, y, *(reference["contour_xy"].max(axis=0) - (x, y)))
            for name in ("max_probability", "area_mm2", "longest_diameter_mm", "centroid_xy"):
                assert getattr(lesion, name) == reference[name], name  # the same floating-point result
            assert lesion.mean_probability == pytest.approx(reference["mean_probability"], abs=1e-12)


def test_the_longest_chord_of_rings_together_is_each_ring_alone():
    rng = np.random.default_rng(3)
    shapes = [
        rng.normal(size=(int(n), 2)) * rng.uniform(0.1, 50)  # clouds
        for n in rng.integers(1, 400, 40)
    ]
    angle = np.linspace(0, 2 * np.pi, 300)
    shapes += [np.stack([np.cos(angle), np.sin(angle)], 1) * 7.0]  # every point on the hull
    shapes += [np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])]  # a line
    shapes += [np.array([[5.0, 5.0]] * 3)]  # one point, repeated
    shapes += [np.stack(np.meshgrid(np.arange(9.0), np.arange(7.0)), -1).reshape(-1, 2) * 0.3]  # collinear rows
    shapes += [np.round(np.stack([np.cos(angle), np.sin(angle)], 1) * 40)]  # a traced circle: points repeated
    lengths = np.array([len(s) for s in shapes])
    chords = longest_chords(np.concatenate(shapes), lengths)
    assert chords.tolist() == [_longest_chord(s) for s in shapes]
    every_pair = [float(np.sqrt((((s[:, None] - s[None]) ** 2).sum(-1)).max())) for s in shapes]
    assert chords.tolist() == every_pair  # the largest of all pairs, to the last bit


def _thinned_by_numpy(points, lengths, tolerance, shortest):
    """What the viewer's outline thinning computed in NumPy before it was compiled."""
    for parity in (1, 0):
        ring = np.repeat(np.arange(len(lengths)), lengths)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        position = np.arange(len(points)) - starts[ring]
        length = lengths[ring]
        before = points[starts[ring] + (position - 1) % length]
        after = points[starts[ring] + (position + 1) % length]
        chord = after - before
        chord_length = np.hypot(chord[:, 0], chord[:, 1])
        offset = np.abs(chord[:, 0] * (points[:, 1] - before[:, 1]) - chord[:, 1] * (points[:, 0] - before[:, 0]))
        drop = (offset <= tolerance * np.maximum(chord_length, 1e-9)) & (position % 2 == parity) & (length >= shortest)
        points = points[~drop]
        lengths = lengths - np.bincount(ring[drop], minlength=len(lengths))
    return points, lengths


@pytest.mark.parametrize("seed", range(6))
def test_rings_thinned_for_drawing_as_numpy_thinned_them(seed):
    from hds_core.findings.rings import thin_rings

    rng = np.random.default_rng(seed)
    values = _map(rng, (int(rng.integers(20, 120)), int(rng.integers(20, 120))))
    rings = trace_regions(values, float(rng.uniform(0.2, 0.8)), 1).rings
    if rings is None or not len(rings):
        return
    for tolerance in (0.05, 0.25, 1.0):
        points, lengths = thin_rings(rings.points * 3.7, rings.lengths, tolerance, 8)
        expected_points, expected_lengths = _thinned_by_numpy(rings.points * 3.7, rings.lengths, tolerance, 8)
        np.testing.assert_array_equal(points, expected_points)
        np.testing.assert_array_equal(lengths, expected_lengths)


def test_an_unbuilt_lesion_pass_says_how_to_build_it(monkeypatch):
    import importlib.util
    import sys

    import hds_core.findings.rings as rings

    monkeypatch.setitem(sys.modules, "hds_core.findings._outline", None)  # as if no .so were there
    monkeypatch.delattr("hds_core.findings._outline")
    # The module's source run afresh under another name: the imported one stays as it is.
    spec = importlib.util.spec_from_file_location("hds_core.findings._rings_unbuilt", rings.__file__)
    with pytest.raises(ImportError, match=r"not built for this Python: run `pip install -e \.`"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
