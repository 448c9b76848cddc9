"""Each rule of the DICOM display pipeline (PS3.3 C.11, PS3.4 N.2)."""

import numpy as np
import pytest

from hds_core.io import grayscale as g
from hds_core.io.grayscale import VoiPreset


def test_rescale_applies_slope_then_intercept_without_touching_input():
    stored = np.array([0, 10, 100], dtype=np.uint16)
    out = g.apply_rescale(stored, 2.0, -5.0)
    assert out.tolist() == [-5.0, 15.0, 195.0]
    assert stored.tolist() == [0, 10, 100]


def test_linear_window_follows_the_standard_formula():
    c, w = 100.0, 51.0
    x = np.array([c - 0.5 - (w - 1) / 2, c - 0.5, c - 0.5 + (w - 1) / 2 + 1, 0, 1000], dtype=np.float32)
    out = g.apply_window(x, c, w, "LINEAR")
    assert out[0] == pytest.approx(0.0, abs=1e-6)
    assert out[1] == pytest.approx(0.5, abs=1e-6)
    assert out[2] == 1.0 and out[3] == 0.0 and out[4] == 1.0


def test_linear_exact_differs_from_linear_at_the_edges():
    x = np.array([75.0, 100.0, 125.0], dtype=np.float32)
    exact = g.apply_window(x, 100, 50, "LINEAR_EXACT")
    assert exact.tolist() == pytest.approx([0.0, 0.5, 1.0])
    linear = g.apply_window(x, 100, 50, "LINEAR")
    assert linear[1] == pytest.approx((100 - 99.5) / 49 + 0.5)


def test_sigmoid_is_logistic_and_not_clipped_linear():
    x = np.array([100.0, 125.0], dtype=np.float32)
    out = g.apply_window(x, 100, 50, "SIGMOID")
    assert out[0] == pytest.approx(0.5)
    assert out[1] == pytest.approx(1 / (1 + np.exp(-2.0)))


@pytest.mark.parametrize("function,width", [("LINEAR", 0.5), ("LINEAR_EXACT", 0), ("SIGMOID", -1), ("CUBIC", 10)])
def test_invalid_windows_are_refused(function, width):
    with pytest.raises(ValueError):
        g.apply_window(np.zeros(3), 0, width, function)


def test_voi_lut_table_clamps_and_scales():
    out = g.apply_voi_table(np.array([0, 10, 11, 12, 50]), first_mapped=10, bits=8, data=[0, 255, 51])
    assert out.tolist() == pytest.approx([0.0, 0.0, 1.0, 0.2, 0.2])


def test_monochrome1_inverts_after_the_voi():
    # A non-symmetric window: inverting before the VOI would give a different answer.
    stored = np.array([[0, 100, 200]], dtype=np.uint16)
    preset = VoiPreset("w", "", center=150, width=100, function="LINEAR_EXACT")
    mono2 = g.render(stored, preset, photometric="MONOCHROME2")
    mono1 = g.render(stored, preset, photometric="MONOCHROME1")
    np.testing.assert_allclose(mono2, [[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(mono1, [[1.0, 1.0, 0.0]])
    inverted_first = g.apply_window(200 - stored.astype(np.float32), 150, 100, "LINEAR_EXACT")
    assert not np.allclose(mono1, inverted_first)


def test_presentation_lut_shape_overrides_photometric():
    assert g.should_invert("MONOCHROME2", "INVERSE")
    assert not g.should_invert("MONOCHROME1", "IDENTITY")
    assert g.should_invert("MONOCHROME1", None)


def test_padding_is_out_of_statistics_and_renders_black():
    stored = np.full((10, 10), 1000, dtype=np.uint16)
    stored[:, 5:] = np.arange(50).reshape(10, 5) + 200
    mask = g.padding_mask(stored, 1000)
    window = g.auto_window(stored.astype(np.float32), mask)
    assert window.center < 300  # the padding value 1000 did not pull the window up
    shown = g.render(stored, window, padding=mask)
    assert (shown[:, :5] == 0).all()


def test_padding_range_limit():
    stored = np.array([0, 5, 10, 11, 500], dtype=np.uint16)
    assert g.padding_mask(stored, 10, 0).tolist() == [True, True, True, False, False]
    assert g.padding_mask(stored, 7) is None
