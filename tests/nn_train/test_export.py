"""hds-export: checkpoint -> shipped weights with their validation report and threshold table."""

import json

import torch

from hds_core.eval.cli import main as eval_main
from hds_core.nn import load_weights, read_spec, sha256
from hds_core.train.export_cli import main as export_main
from hds_core.train.shipping import choose_threshold, rounded_copy


def test_export_writes_fp16_weights_with_a_report_hds_eval_reproduces(
    trained_phantom_model, phantom_dataset, tmp_path, capsys
):
    checkpoint, _ = trained_phantom_model
    out = tmp_path / "shipped.safetensors"
    assert (
        export_main([str(checkpoint), str(out), "--dataset", f"folder:{phantom_dataset}", "--model-name", "phantom"])
        == 0
    )
    printed = capsys.readouterr().out
    meta = read_spec(out).to_document()
    assert meta["model_name"] == "phantom" and "optimizer" not in json.dumps(sorted(meta))
    agreement = meta["precision_agreement"]
    assert 0.0 <= agreement["fp16_weights"] <= 1.0 and 0.0 <= agreement["bf16"] <= 1.0
    assert meta["storage_dtype"] == ("fp16" if agreement["fp16_weights"] >= 0.99 else "fp32")
    assert meta["source_checkpoint"]["sha256"] == sha256(checkpoint)
    assert meta["score_source"] in ("mil", "max_probability") and "AUC" in meta["score_source_rule"]
    assert sha256(out) in printed
    table = meta["validation"]["threshold_table"]
    assert meta["default_threshold"] == choose_threshold(table)[0] == meta["validation"]["threshold"]
    assert len(meta["validation"]["exits"]) == 6
    # No optimizer state ships, and the tensors are stored in the recorded dtype.
    from safetensors.torch import load_file

    tensors = load_file(out)
    assert not any(k.startswith("optimizer.") for k in tensors)
    floats = {v.dtype for v in tensors.values() if v.is_floating_point()}
    assert floats == ({torch.float16} if meta["storage_dtype"] == "fp16" else {torch.float32})
    load_weights(out)
    # hds-eval on the exported weights reproduces the recorded validation numbers.
    report_path = tmp_path / "eval.json"
    assert (
        eval_main(
            ["--dataset", f"folder:{phantom_dataset}", "--weights", str(out), "--val-split", "--json", str(report_path)]
        )
        == 0
    )
    report = json.loads(report_path.read_text())
    for key, value in meta["validation"]["final"].items():
        assert report["final"][key] == value, key
    assert report["threshold_table"] == table
    # Never overwrites without --force.
    assert export_main([str(checkpoint), str(out), "--dataset", f"folder:{phantom_dataset}"]) == 2
    assert "--force" in capsys.readouterr().err


def test_choose_threshold_maximises_youden_on_contours_and_prefers_fewer_marks():
    table = [
        {"threshold": 0.3, "contour_sensitivity": 1.0, "contour_specificity": 0.2},
        {"threshold": 0.5, "contour_sensitivity": 0.8, "contour_specificity": 0.7},
        {"threshold": 0.6, "contour_sensitivity": 0.7, "contour_specificity": 0.8},
        {"threshold": 0.9, "contour_sensitivity": None, "contour_specificity": 1.0},
    ]
    assert choose_threshold(table)[0] == 0.6


def test_rounded_copy_leaves_the_original_untouched(trained_phantom_model):
    model, _ = load_weights(trained_phantom_model[0])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rounded = rounded_copy(model, torch.float16)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    weight = next(v for k, v in rounded.state_dict().items() if k.endswith("weight") and v.is_floating_point())
    assert torch.equal(weight, weight.half().float())
