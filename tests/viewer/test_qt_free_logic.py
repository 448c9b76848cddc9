"""Qt-free viewer logic: screen rendering equals the engine's pipeline; study scores; the
threshold's validation figures."""

from pathlib import Path

import numpy as np
import pytest

from hds_core.io import MammoImage, MammoMetadata, grayscale
from hds_core.io.grayscale import VoiPreset
from hds_core.report.operating_point import operating_point
from mammo_viewer.pictures.display import ScreenRenderer, adjusted, window_of
from mammo_viewer.reading.study import Study, StudyImage


def image(
    photometric="MONOCHROME2", presets=(), padding_value=None, dtype=np.uint16, high=4096, slope=1.0, intercept=0.0
):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, high, size=(64, 48)).astype(dtype)
    pixels[:4, :4] = 0
    meta = MammoMetadata(path=Path("x.dcm"), file_format="DICOM", rows=64, columns=48, photometric=photometric)
    return MammoImage(
        pixels,
        meta,
        rescale_slope=slope,
        rescale_intercept=intercept,
        file_presets=list(presets),
        padding_value=padding_value,
    )


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
@pytest.mark.parametrize(
    "preset",
    [
        VoiPreset("w", "", center=2000, width=900),
        VoiPreset("s", "", center=1500, width=2000, function="SIGMOID"),
        VoiPreset("e", "", center=1000, width=300, function="LINEAR_EXACT"),
    ],
)
@pytest.mark.parametrize("invert", [False, True])
def test_screen_renderer_equals_the_engine_pipeline(photometric, preset, invert):
    img = image(photometric, [preset], padding_value=0, slope=0.5, intercept=-100)
    expected = grayscale.to_uint8(img.render(preset, user_invert=invert))
    np.testing.assert_array_equal(ScreenRenderer(img).render(preset, user_invert=invert), expected)


def test_signed_and_float_images_render_too():
    signed = image(dtype=np.int16, high=2000)
    signed.pixels[5:9] = -300
    preset = signed.default_preset
    np.testing.assert_array_equal(ScreenRenderer(signed).render(preset), grayscale.to_uint8(signed.render(preset)))
    # Known answers (PS3.3 C.11.2.1.2 LINEAR, centre 500, width 1001: 0 at or below 0, 255 at or
    # above 1000, linear between); MONOCHROME1 is the inverse. Signed values below 0 are black.
    values = np.array([[-300, 0, 250, 500, 750, 1000, 2000]])
    expected = np.array([[0, 0, 64, 128, 191, 255, 255]])
    window = VoiPreset("w", "", center=500, width=1001)
    for dtype in (np.int16, np.float32, np.float64):
        for photometric, want in (("MONOCHROME2", expected), ("MONOCHROME1", 255 - expected)):
            meta = MammoMetadata(path=Path("x.dcm"), file_format="DICOM", rows=1, columns=7, photometric=photometric)
            screen = ScreenRenderer(MammoImage(values.astype(dtype), meta)).render(window)
            assert np.abs(screen.astype(int) - want).max() <= 1, (dtype, photometric, screen)


def test_a_drag_keeps_the_voi_function_and_tables_start_from_their_range():
    sigmoid = VoiPreset("s", "", center=100, width=50, function="SIGMOID")
    moved = adjusted(sigmoid, 120, -5)
    assert moved.function == "SIGMOID" and moved.width >= 1 and moved.center == 120 and moved.name == "Custom"
    table = VoiPreset("lut", "", lut_first_mapped=0, lut_bits=8, lut_data=tuple(range(256)))
    img = image()
    center, width = window_of(img, table)
    assert width == pytest.approx(float(img.pixels.max()) - float(img.pixels.min()))
    assert not adjusted(table, center, width).is_table


class FakePrediction:
    def __init__(self, score):
        self.score = score

    def lesions(self, threshold):
        return []


def test_breast_score_is_the_max_of_its_views_and_the_exam_the_max_of_breasts():
    study = Study("P", None, None, None, None, "1")
    for key, side, score in (("a", "R", 0.2), ("b", "R", 0.7), ("c", "L", 0.4), ("d", None, None)):
        meta = MammoMetadata(path=Path(key), file_format="DICOM", rows=1, columns=1, laterality=side, view="CC")
        study.images[key] = StudyImage(
            key, Path(key), meta, prediction=FakePrediction(score) if score is not None else None
        )
    assert study.breast_scores() == {"R": 0.7, "L": 0.4}
    assert study.exam_score() == 0.7
    assert Study("P", None, None, None, None, "1").exam_score() is None


def test_operating_point_interpolates_the_card_table():
    table = [
        {"threshold": 0.4, "contour_sensitivity": 1.0, "contour_specificity": 0.5, "dice_mass_images": None},
        {"threshold": 0.6, "contour_sensitivity": 0.6, "contour_specificity": 0.9, "dice_mass_images": 0.3},
    ]
    point = operating_point(table, 0.5)
    assert point["contour_sensitivity"] == pytest.approx(0.8) and point["contour_specificity"] == pytest.approx(0.7)
    assert point["dice_mass_images"] is None
    assert operating_point(table, 0.1)["threshold"] == 0.4 and operating_point(table, 0.9)["threshold"] == 0.6
    assert operating_point([], 0.5) is None


# ----- decoder processes (mammo_viewer.work.decoding) ------------------------------------------------
def test_read_errors_cross_process_boundaries_intact(tmp_path):
    import pickle

    from hds_core.io import errors as read_errors

    for cls in (read_errors.TruncatedFileError, read_errors.DecodeError, read_errors.NonImageObjectError):
        error = cls(tmp_path / "caf\udce9.dcm", "a reason", "a fix")
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is cls and copy.path == error.path and copy.reason == "a reason" and str(copy) == str(error)


def test_decoder_process_gives_the_same_film_and_survives_a_crash(tmp_path):
    import os
    import signal

    import numpy as np
    import pydicom
    from synthetic import phantom, write_dicom

    from hds_core.io import errors as read_errors
    from mammo_viewer.work.decoding import DecoderPool, decode

    small = write_dicom(tmp_path / "small.dcm", phantom((96, 64), seed=1)[0], ImageLaterality="L", ViewPosition="CC")
    big_pixels = np.kron(phantom((512, 416), seed=2)[0], np.ones((4, 4), np.uint16))
    big = write_dicom(tmp_path / "big.dcm", big_pixels, syntax=pydicom.uid.JPEG2000Lossless)

    def blocks():  # shared-memory blocks (the pool's semaphores live there too, briefly)
        return (
            {name for name in os.listdir("/dev/shm") if name.startswith("psm_")} if os.path.isdir("/dev/shm") else set()
        )

    shm_before = blocks()
    pool = DecoderPool()
    try:
        assert not pool.in_process
        decoded = pool.result(pool.submit(small, 32), small)
        local = decode(small, 32)
        np.testing.assert_array_equal(decoded.image.pixels, local.image.pixels)
        np.testing.assert_array_equal(
            decoded.renderer.render(decoded.image.default_preset), local.renderer.render(local.image.default_preset)
        )
        # A decoder process that dies mid-film: that file fails, typed; the next one decodes.
        future = pool.submit(big, 32)
        pid = next(iter(pool._pool._processes))
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(read_errors.DecodeError, match="decoder crashed"):
            pool.result(future, big)
        assert pool.result(pool.submit(small, 32), small).image.pixels.shape == (96, 64)
        # Films cancelled or abandoned leave no shared memory behind.
        futures = [pool.submit(small, 32) for _ in range(3)]
        futures[-1].source.cancel()
        for future in futures[:-1]:
            future.result()
    finally:
        pool.shutdown()
    assert blocks() <= shm_before


def test_drawn_contours_drop_only_points_within_a_quarter_pixel_of_their_neighbours_chord():
    from mammo_viewer.pictures.outline_path import CONTOUR_TOLERANCE_PX, drawn_points

    angles = np.linspace(0, 2 * np.pi, 4000, endpoint=False)
    circle = np.stack([500 + 300 * np.cos(angles), 400 + 300 * np.sin(angles)], axis=1)
    square = np.concatenate(
        [
            np.stack([np.linspace(0, 99, 100), np.zeros(100)], 1),  # straight runs of collinear points
            np.stack([np.full(100, 100.0), np.linspace(0, 99, 100)], 1),
            np.stack([np.linspace(100, 1, 100), np.full(100, 100.0)], 1),
            np.stack([np.zeros(100), np.linspace(100, 1, 100)], 1),
        ]
    )
    for ring in (circle, square):
        drawn = drawn_points(ring)
        assert 4 <= len(drawn) < len(ring)
        # Every traced point lies within the tolerance of the drawn outline (segments, closed).
        a, b = drawn, np.roll(drawn, -1, axis=0)
        ab = b - a
        t = np.clip(((ring[:, None, :] - a[None]) * ab[None]).sum(-1) / np.maximum((ab**2).sum(-1), 1e-12)[None], 0, 1)
        distance = np.hypot(*(a[None] + t[..., None] * ab[None] - ring[:, None, :]).transpose(2, 0, 1)).min(axis=1)
        assert distance.max() <= 2 * CONTOUR_TOLERANCE_PX
    corners = drawn_points(square)
    for corner in ([0, 0], [100, 0], [100, 100], [0, 100]):
        assert np.hypot(*(corners - corner).T).min() <= 1.0  # the corners stay
    small = circle[::500]
    np.testing.assert_array_equal(drawn_points(small), small)  # too few points to thin


def test_the_full_resolution_queue_keeps_each_image_once_and_puts_a_wanted_one_first(qtbot, monkeypatch):
    from mammo_viewer.work.loading import StudyLoader

    loader = StudyLoader()
    try:
        monkeypatch.setattr(loader, "_next_detail", lambda: None)  # nothing starts: only the order is looked at
        a, b, c, d = (("a", Path("a")), ("b", Path("b")), ("c", Path("c")), ("d", Path("d")))
        loader.want_detail([a, b, c])
        loader.want_detail([b, c, d])  # asked again after the queue: nothing moves, nothing is lost
        assert [key for key, _ in loader._detail_queue] == ["a", "b", "c", "d"]
        loader.want_detail([c], first=True)  # a view zoomed in: before the rest
        assert [key for key, _ in loader._detail_queue] == ["c", "a", "b", "d"]
        loader._detail_running = ("a", None)
        loader._detail_queue.remove(a)
        loader.want_detail([a, d], first=True)  # the one being decoded is not queued again
        assert [key for key, _ in loader._detail_queue] == ["d", "c", "b"]
        assert loader.detail_pending("a") and loader.detail_pending("b") and not loader.detail_pending("e")
        loader._detail_running = None
    finally:
        loader.shutdown()
