"""The weights' JSON, typed (hds_core/nn/spec.py): read and validated once, written by one
function, round-tripping every shipped document unchanged."""

import json

import pytest
from conftest import TINY_NET

from hds_core.nn import DEFAULT_THRESHOLD, DEFAULT_WORKING_SPACING_MM, HDSConfig, ModelSpec, WeightsError, read_spec
from hds_core.nn.spec import FORMAT
from resources import default_weights


def _document(**fields) -> dict:
    return {"format": FORMAT, "network": HDSConfig(**TINY_NET).to_dict(), **fields}


def test_the_shipped_document_round_trips_unchanged():
    weights = default_weights()
    document = json.loads(weights.with_suffix(".json").read_text())
    spec = read_spec(weights)
    assert json.loads(json.dumps(spec.to_document())) == document
    assert spec.working_spacing_mm == document["preprocessing"]["working_spacing_mm"]
    assert spec.threshold_table == tuple(document["validation"]["threshold_table"])
    assert spec.default_threshold == document["default_threshold"]


def test_defaults_are_stated_once_and_an_empty_document_takes_them():
    spec = ModelSpec.from_document(_document())
    assert (spec.working_spacing_mm, spec.default_threshold, spec.score_source) == (
        DEFAULT_WORKING_SPACING_MM,
        DEFAULT_THRESHOLD,
        "mil",
    )
    assert spec.calibration is None and spec.bilateral is None and spec.suppress == () and not spec.agrees_in("bf16")
    written = spec.to_document()
    assert written["preprocessing"] == {"working_spacing_mm": DEFAULT_WORKING_SPACING_MM}
    assert "calibration" not in written and "suppress" not in written


def test_provenance_is_kept_as_written_beside_the_fields():
    document = _document(
        validation={"source": "5 folds", "threshold_table": [{"threshold": 0.3, "dice_mass_images": 0.5}]},
        preprocessing={"working_spacing_mm": 0.8, "input": "crop"},
        default_threshold_rule="Youden",
    )
    spec = ModelSpec.from_document(document)
    assert spec.working_spacing_mm == 0.8 and spec.threshold_table[0]["threshold"] == 0.3
    assert spec.provenance["validation"] == {"source": "5 folds"}
    assert spec.provenance["default_threshold_rule"] == "Youden"
    assert spec.to_document() == {**document, "default_threshold": DEFAULT_THRESHOLD, "score_source": "mil"}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"default_threshold": 1.5}, "default_threshold"),
        ({"default_threshold": "0.4"}, "default_threshold"),
        ({"score_source": "mean"}, "score_source"),
        ({"preprocessing": {"working_spacing_mm": 0}}, "preprocessing.working_spacing_mm"),
        ({"preprocessing": {"working_spacing_mm": float("nan")}}, "preprocessing.working_spacing_mm"),
        ({"validation": {"threshold_table": [{"dice": 1}]}}, "validation.threshold_table"),
        ({"calibration": [1, 2]}, "calibration"),
        ({"suppress": "pectoral"}, "suppress"),
        ({"precision_agreement": 0.99}, "precision_agreement"),
        ({"epoch": -1}, "epoch"),
    ],
)
def test_a_wrong_field_is_named_with_its_file(fields, named):
    with pytest.raises(WeightsError) as caught:
        ModelSpec.from_document(_document(**fields), "w.json")
    assert str(caught.value).startswith("w.json: ") and f"'{named}'" in str(caught.value)


def test_a_wrong_network_or_format_is_refused(tmp_path):
    with pytest.raises(WeightsError, match="network"):
        ModelSpec.from_document({"format": FORMAT, "network": {"encoder_widths": "wide"}}, "w.json")
    with pytest.raises(WeightsError, match="network' is missing"):
        ModelSpec.from_document({"format": FORMAT}, "w.json")
    with pytest.raises(WeightsError, match="unknown weights format"):
        ModelSpec.from_document({"format": "other/2"}, "w.json")


def test_precision_is_trusted_only_where_measured_to_agree():
    spec = ModelSpec.from_document(_document(precision_agreement={"bf16": 0.995, "fp16": 0.98, "measured_on": "x"}))
    assert spec.agrees_in("bf16") and not spec.agrees_in("fp16") and not spec.agrees_in("measured_on")
