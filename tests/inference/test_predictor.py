"""The Predictor: original geometry, lesions at any threshold, cancel, CUDA fallback.

The weights are hand-set (``fixed_model.py``): mass where the z-scored image is bright. On a
crisp phantom the one right answer is the mass disc itself, so every tolerance here is the
resampling's (0.2 mm pixels to the 0.4 mm working spacing and back: one working pixel is two
original pixels), not what a training run happened to learn on this CPU."""

import numpy as np
import pytest
import torch
from conftest import gpu_that_fails
from synthetic import phantom, write_dicom

from hds_core.infer import PredictionCancelled, Predictor
from hds_core.infer import predictor as predictor_module
from hds_core.io import read_image


@pytest.fixture(scope="module")
def predictor(phantom_model):
    return Predictor(phantom_model, device="cpu")


@pytest.fixture(scope="module")
def mass_image(tmp_path_factory):
    # 0.2 mm pixels: the predictor resamples to the model's 0.4 mm working spacing and back.
    pixels, mask = phantom((256, 256), seed=100, chest_wall="right", mass_radius=24, crisp=True)
    path = write_dicom(
        tmp_path_factory.mktemp("img") / "mass.dcm",
        pixels,
        ImagerPixelSpacing=[0.2, 0.2],
        ImageLaterality="L",
        ViewPosition="MLO",
        WindowCenter=2048,
        WindowWidth=4096,
    )
    return read_image(path), mask


def test_probability_map_is_in_the_original_geometry(predictor, mass_image):
    image, mask = mass_image
    prediction = predictor.predict(image)
    probability = prediction.probability_map()
    assert probability.shape == image.pixels.shape and probability.dtype == np.float32
    assert probability[mask].mean() > 0.9 and probability[~mask].mean() < 0.05
    # Only a rim one working pixel wide around the disc may disagree with it.
    from scipy import ndimage

    rim = ndimage.binary_dilation(mask, iterations=3) & ~ndimage.binary_erosion(mask, iterations=3)
    assert not ((probability >= 0.5) != mask)[~rim].any()
    assert prediction.score > 0.9 and prediction.device == "CPU" and prediction.precision == "fp32"
    assert len(prediction.weights_sha256) == 64


def test_lesions_at_any_threshold_in_original_pixels(predictor, mass_image, monkeypatch):
    image, mask = mass_image
    prediction = predictor.predict(image)
    calls = []
    monkeypatch.setattr(predictor.model, "forward", lambda *a, **k: calls.append(1))
    lesions = prediction.lesions(0.5)
    assert lesions and not calls  # no network run for a new threshold
    top = lesions[0]
    assert len(lesions) == 1  # the disc, and nothing in the tissue (dimmer than the model's cut)
    rows, cols = np.nonzero(mask)
    assert abs(top.centroid_xy[0] - cols.mean()) < 1.5 and abs(top.centroid_xy[1] - rows.mean()) < 1.5
    xs, ys = top.contour_xy[:, 0], top.contour_xy[:, 1]
    for found, true in ((xs.min(), cols.min()), (xs.max(), cols.max()), (ys.min(), rows.min()), (ys.max(), rows.max())):
        assert abs(found - true) <= 3  # one working pixel (2 original pixels) plus half a pixel of outline
    # Radius 24 px +- 2 px of resampling: the area within 2 * 2 / 24 (17%), the diameter within 4 px.
    true_area = mask.sum() * 0.2 * 0.2
    assert top.area_mm2 == pytest.approx(true_area, rel=0.17)
    assert top.longest_diameter_mm == pytest.approx(48 * 0.2, abs=4 * 0.2)
    areas = [sum(lesion.area_mm2 for lesion in prediction.lesions(t)) for t in (0.3, 0.5, 0.8)]
    assert areas[0] >= areas[1] >= areas[2]
    assert prediction.lesions(1.01) == []
    # Kept for the last thresholds asked (the panel and every view ask alike), handed out as copies.
    again = prediction.lesions(0.5)
    assert again == lesions and again is not lesions
    again.clear()
    assert prediction.lesions(0.5) == lesions
    document = prediction.to_dict(0.5)
    assert document["lesions"][0]["contour_xy"] and document["model"]["weights_sha256"] == predictor.weights_sha256


def test_unknown_spacing_gives_no_mm_and_a_warning(predictor, tmp_path):
    pixels, _ = phantom((128, 128), seed=101)
    image = read_image(write_dicom(tmp_path / "nospacing.dcm", pixels))
    prediction = predictor.predict(image)
    assert any("spacing unknown" in w for w in prediction.warnings)
    assert all(x.area_mm2 is None and x.longest_diameter_mm is None for x in prediction.lesions(0.3))


def test_cancel_stops_inside_the_network(predictor, mass_image):
    image, _ = mass_image
    checks = []

    def cancel():
        checks.append(1)
        return len(checks) > 3  # after preprocessing, inside the encoder

    with pytest.raises(PredictionCancelled):
        predictor.predict(image, cancel=cancel)
    assert predictor.predict(image).score >= 0  # still usable afterwards


def test_cuda_failure_falls_back_to_cpu_with_a_warning(phantom_model, mass_image, monkeypatch):
    image, _ = mass_image
    predictor = Predictor(phantom_model, device="cpu")
    reference = predictor.predict(image)
    gpu_that_fails(monkeypatch, predictor)
    with pytest.warns(RuntimeWarning, match="CUDA failed"):
        prediction = predictor.predict(image)
    assert predictor.device.type == "cpu" and prediction.device == "CPU"
    assert any("CUDA failed" in w for w in prediction.warnings)
    np.testing.assert_allclose(prediction.working_probability, reference.working_probability, atol=1e-6)


def test_reduced_precision_needs_native_support_and_recorded_agreement(predictor, monkeypatch):
    monkeypatch.setattr(predictor_module, "cpu_has_native_bf16", lambda: True)
    spec = predictor.spec
    monkeypatch.setattr(predictor, "spec", spec.replace(precision_agreement={}))
    assert predictor.autocast_dtype() is None  # not verified on these weights
    monkeypatch.setattr(predictor, "spec", spec.replace(precision_agreement={"bf16": 0.995}))
    assert predictor.autocast_dtype() == torch.bfloat16
    monkeypatch.setattr(predictor_module, "cpu_has_native_bf16", lambda: False)
    assert predictor.autocast_dtype() is None  # emulated bf16 is slower than fp32


def test_missing_shipped_weights_is_a_clear_error(monkeypatch):
    import resources
    from hds_core.nn import WeightsError

    monkeypatch.setattr(resources, "default_weights", lambda: None)
    with pytest.raises(WeightsError, match="no shipped weights"):
        Predictor()


def test_precision_agreement_is_measured_on_images(predictor, mass_image):
    """What hds-export records and the Predictor requires before it uses bf16."""
    from types import SimpleNamespace

    from hds_core.train.shipping import mask_agreement

    image, _ = mass_image
    cases = [SimpleNamespace(working=predictor.model_input(image))]
    agreement = mask_agreement(
        predictor.model, predictor.model, cases, predictor.device, 0.5, autocast_dtype=torch.bfloat16
    )
    assert 0.9 <= agreement <= 1.0  # bf16 masks of a clear phantom mass match fp32 closely


def test_weights_that_name_a_suppression_lose_their_marks_outside_the_breast(phantom_model, tmp_path):
    import json
    import shutil

    pixels, mask = phantom((256, 256), seed=100, chest_wall="right", mass_radius=24, crisp=True)
    from hds_core.io import breast_mask

    breast = breast_mask(pixels.astype(np.float32))
    top, left = np.flatnonzero(breast.any(axis=1))[0], np.flatnonzero(breast.any(axis=0))[0]
    rows, cols = np.mgrid[0:256, 0:256]
    # A bright film label off the breast but inside the breast's bounding box (the crop keeps it).
    label = np.hypot(rows - (top + 12), cols - (left + 12)) < 6
    assert not (label & breast).any()
    pixels = np.where(label, pixels.max(), pixels)
    image = read_image(
        write_dicom(
            tmp_path / "label.dcm",
            pixels,
            ImagerPixelSpacing=[0.2, 0.2],
            ImageLaterality="L",
            ViewPosition="MLO",
            WindowCenter=2048,
            WindowWidth=4096,
        )
    )
    plain = Predictor(phantom_model, device="cpu").predict(image).probability_map()
    assert plain[label].max() > 0.9 and plain[mask].mean() > 0.9
    weights = tmp_path / "w.safetensors"
    shutil.copy(phantom_model, weights)
    document = json.loads(phantom_model.with_suffix(".json").read_text())
    weights.with_suffix(".json").write_text(json.dumps({**document, "suppress": ["breast", "pectoral"]}))
    kept = Predictor(weights, device="cpu").predict(image).probability_map()
    assert kept[label].max() < 0.05 and kept[mask].mean() > 0.9
