"""One model per domain (issue 38): the domain from the header, else from the pixels; a
digitised film as real collections carry it (CBIS-DDSM: Secondary Capture, RLE, the view in
Patient Orientation, the breast in the series' Laterality, no spacing) read as a film with its
view, breast and an estimated spacing; an image with no breast refused as no mammogram."""

import json
import shutil

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw
from synthetic import phantom, write_cbis_like, write_dicom, write_png

from hds_core.infer import DomainModels, NotAMammogramError, Predictor
from hds_core.io import read_image
from hds_core.io.appearance import measure, no_breast
from hds_core.io.image import ESTIMATE_LONG_SIDE_MM, estimated_spacing_mm
from hds_core.io.view_text import orientation_or_view, view_and_side
from mammo_viewer.headless import main as predict_main
from resources import resource_path

DEMO = resource_path("demo")


def _demo_pixels(name: str) -> np.ndarray:
    return read_image(DEMO / name).pixels


@pytest.fixture(scope="module")
def cbis_film(tmp_path_factory):
    """The demo's right MLO film (mini-MIAS, 1,024² at 0.2 mm) scanned twice as finely, as
    CBIS-DDSM's scanners did (2,048² at 0.1 mm; the archive's are 0.05 mm)."""
    film = _demo_pixels("DEMO-091/R_MLO.dcm").astype(np.uint16)
    fine = np.kron(film, np.ones((2, 2), np.uint16)) * 256
    folder = tmp_path_factory.mktemp("cbis")
    return write_cbis_like(folder / "1-1.dcm", fine, "Mass-Test_P_00820_RIGHT_MLO", orientation="MLO", side="R")


def test_the_header_says_film_or_digital_or_nothing(tmp_path):
    pixels, _ = phantom((64, 64), seed=1)
    cases = {
        "film": {"DetectorType": "FILM"},
        "digital": {"DetectorType": "DIRECT"},
        "converted": {"ConversionType": "DF"},
        "digitiser": {"SecondaryCaptureDeviceManufacturer": "Lumisys"},
        "untyped": {},
    }
    domains = {
        name: read_image(write_dicom(tmp_path / f"{name}.dcm", pixels, **tags)).metadata for name, tags in cases.items()
    }
    assert {name: meta.acquisition_domain for name, meta in domains.items()} == {
        "film": "film",
        "digital": "digital",
        "converted": "film",
        "digitiser": "film",
        "untyped": None,  # a plain MG object: the pixels decide
    }
    assert domains["digitiser"].acquisition_domain_source == "a film digitiser (Lumisys)"
    raster = read_image(write_png(tmp_path / "raster.png", (pixels >> 4).astype(np.uint8))).metadata
    assert raster.acquisition_domain is None


def test_views_and_sides_as_collections_write_them():
    assert view_and_side("Mass-Test_P_00820_LEFT_CC") == ("CC", "L")
    assert view_and_side("Calc-Training_P_00005_RIGHT_MLO_1") == ("MLO", "R")
    assert view_and_side("R MLO") == ("MLO", "R") and view_and_side("LCC") == ("CC", "L")
    assert view_and_side("P_00820") == (None, None)  # no side in a lone letter away from a view
    assert orientation_or_view(["MLO"]) == (None, "MLO")
    assert orientation_or_view(["A", "FR"]) == (("A", "FR"), None)


def test_a_cbis_ddsm_film_is_read_as_a_film_with_its_view_side_and_an_estimated_spacing(cbis_film):
    meta = read_image(cbis_film).metadata
    assert (meta.view, meta.view_source, meta.laterality, meta.laterality_source) == (
        "MLO",
        "PatientOrientation",
        "R",
        "Laterality",
    )
    assert meta.patient_orientation is None  # a view code is not a direction
    assert meta.acquisition_domain == "film" and "Secondary Capture" in meta.acquisition_domain_source
    assert meta.pixel_spacing_mm is None
    assert meta.spacing_for_network == (ESTIMATE_LONG_SIDE_MM / 2048,) * 2
    assert any("Patient Orientation" in note for note in meta.warnings())


def test_hds_predict_says_the_film_its_model_view_side_and_estimated_spacing(cbis_film, tmp_path):
    assert predict_main([str(cbis_film), "--out", str(tmp_path / "out")]) == 0
    (result,) = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert result["domain"] == "film" and result["domain_source"].startswith("header: a Secondary Capture")
    assert (result["view"], result["laterality"]) == ("MLO", "R")
    assert result["pixel_spacing_mm"] is None
    assert result["pixel_spacing_estimate_mm"] == pytest.approx(ESTIMATE_LONG_SIDE_MM / 2048, rel=1e-3)
    assert any("estimated" in w for w in result["warnings"])
    models = DomainModels(device="cpu")
    film_model = models.serving("film")
    assert result["model"]["name"] == film_model.model_name
    assert result["threshold"] == film_model.spec.default_threshold


def test_the_spacing_estimate_takes_the_long_side_as_a_film_and_stays_plausible():
    assert estimated_spacing_mm((4600, 2700)) == pytest.approx(240 / 4600)
    assert estimated_spacing_mm((1024, 1024)) == pytest.approx(0.234375)
    assert estimated_spacing_mm((10, 10)) == 2.0  # never outside what a mammogram can have


def test_plain_mg_files_are_given_their_domain_by_their_pixels(tmp_path):
    """The demo's film and digital images rewritten as plain MG (no Detector Type): the pixels
    say which. The classifier saw these images in its fit: this checks the wiring, not its
    accuracy (the card gives that, out of fold)."""
    models = DomainModels(device="cpu")
    for name, expected in (("DEMO-091/R_MLO.dcm", "film"), ("DEMO-P126/L_CC.dcm", "digital")):
        ds = pydicom.dcmread(DEMO / name)
        del ds.DetectorType
        ds.Manufacturer = "unknown"
        plain = tmp_path / name.replace("/", "_")
        ds.save_as(plain, enforce_file_format=True)
        image = read_image(plain)
        assert image.metadata.acquisition_domain is None
        domain, source = models.domain_of(image)
        assert domain == expected and source.startswith(f"pixels: {expected}")


def _drawing(path, kind: str):
    if kind == "lines and a circle":
        im = Image.new("L", (600, 750), 128)
        draw = ImageDraw.Draw(im)
        for x in range(0, 600, 30):
            draw.line([(x, 0), (x, 750)], fill=90, width=3)
        draw.ellipse([150, 220, 450, 520], outline=220, width=6)
    elif kind == "blank":
        im = Image.new("L", (600, 750), 0)
    elif kind == "noise":
        im = Image.fromarray((np.random.default_rng(3).random((750, 600)) * 255).astype(np.uint8))
    else:  # a smooth ramp
        im = Image.fromarray(np.tile(np.linspace(0, 255, 600), (750, 1)).astype(np.uint8))
    im.save(path)
    return path


@pytest.mark.parametrize("kind", ["lines and a circle", "blank", "noise", "ramp"])
def test_an_image_with_no_breast_is_not_analysed(kind, tmp_path, phantom_model, capsys):
    path = _drawing(tmp_path / "drawing.png", kind)
    with pytest.raises(NotAMammogramError, match="no breast"):
        Predictor(phantom_model, device="cpu").predict_path(path)
    assert predict_main([str(path), "--out", str(tmp_path / "out"), "--weights", str(phantom_model)]) != 0
    assert "not a mammogram (no breast" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.json")) if (tmp_path / "out").exists() else True


def test_every_demo_image_and_the_test_phantoms_show_a_breast():
    for path in sorted(DEMO.rglob("*.dcm")):
        assert no_breast(measure(read_image(path))) is None, path
    for seed, shape in ((0, (256, 192)), (1, (64, 48)), (2, (512, 384))):
        pixels, _ = phantom(shape, seed=seed)
        from hds_core.io import MammoImage, MammoMetadata

        image = MammoImage(pixels, MammoMetadata(path=None, file_format="PNG", rows=shape[0], columns=shape[1]))
        assert no_breast(measure(image)) is None


def test_each_domain_is_served_by_its_model_and_explicit_weights_serve_all(phantom_model, tmp_path):
    film_weights = tmp_path / "film_model.safetensors"
    shutil.copy(phantom_model, film_weights)
    document = json.loads(phantom_model.with_suffix(".json").read_text())
    document.update(model_name="film_model", default_threshold=0.3)
    film_weights.with_suffix(".json").write_text(json.dumps(document))
    models = DomainModels(phantom_model, film_weights=film_weights, device="cpu")
    pixels, _ = phantom((256, 192), seed=4, crisp=True)
    film = write_dicom(tmp_path / "f.dcm", pixels, DetectorType="FILM", ImagerPixelSpacing=[0.4, 0.4])
    digital = write_dicom(tmp_path / "d.dcm", pixels, DetectorType="DIRECT", ImagerPixelSpacing=[0.4, 0.4])
    served = {p.domain: p for p in (models.predict_path(film), models.predict_path(digital))}
    assert served["film"].model_name == "film_model" and served["digital"].model_name != "film_model"
    assert models.for_predictions(list(served.values()) + [served["film"]]).spec.default_threshold == 0.3
    alone = DomainModels(phantom_model, device="cpu")
    assert alone.film is None and alone.predict_path(film).model_name == served["digital"].model_name


def test_a_domains_operating_point_is_chosen_on_its_rows_and_kept_with_the_weights(phantom_model, tmp_path):
    from hds_core.nn import read_spec, sha256
    from hds_core.train.operating_point import main as operating_point

    weights = tmp_path / "w.safetensors"
    shutil.copy(phantom_model, weights)
    document = json.loads(phantom_model.with_suffix(".json").read_text())
    rows = [{"threshold": t, "dice_mass_images": d} for t, d in ((0.3, 0.4), (0.5, 0.6), (0.7, 0.6), (0.9, 0.2))]
    document["default_threshold"] = 0.3
    document.setdefault("validation", {})["threshold_table_per_dataset"] = {"folder:/x/cdd-cesm": rows}
    weights.with_suffix(".json").write_text(json.dumps(document))
    before = sha256(weights)
    assert operating_point([str(weights), "--domain", "digital", "--dataset", "cdd-cesm", "--rule", "dice"]) == 0
    spec = read_spec(weights)
    assert spec.default_threshold_for("digital") == 0.7  # the best Dice, ties to the higher threshold
    assert spec.default_threshold_for("film") == spec.default_threshold_for(None) == 0.3
    assert sha256(weights) == before  # the tensors are untouched
