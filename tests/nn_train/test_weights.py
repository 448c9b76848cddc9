"""Weights: safetensors + JSON round trip; every broken case is a WeightsError naming the file."""

import json
import shutil

import pytest
import torch
from conftest import TINY_NET

from hds_core.nn import HDSConfig, HDSUNet, ModelSpec, WeightsError, load_weights, save_weights


@pytest.fixture
def saved(tmp_path):
    model = HDSUNet(HDSConfig(**TINY_NET)).eval()
    path = tmp_path / "w.safetensors"
    save_weights(path, model, ModelSpec(network=model.config, model_name="tiny"))
    return model, path


def test_round_trip_gives_identical_outputs(saved):
    model, path = saved
    loaded, meta = load_weights(path)
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x).final_seg, loaded(x).final_seg)
    assert meta.model_name == "tiny" and meta.network.bottleneck_width == 16
    assert not loaded.training


def test_fp16_storage_loads_into_fp32(tmp_path, saved):
    model, _ = saved
    path = tmp_path / "half.safetensors"
    save_weights(path, model, ModelSpec(network=model.config), dtype=torch.float16)
    loaded, _ = load_weights(path)
    assert next(loaded.parameters()).dtype == torch.float32


def test_missing_files(tmp_path, saved):
    _, path = saved
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "nope.safetensors")
    path.with_suffix(".json").unlink()
    with pytest.raises(WeightsError, match="w.json is missing"):
        load_weights(path)


def test_truncated_and_corrupt(tmp_path, saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt") as info:
        load_weights(path)
    assert info.value.path == path
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(WeightsError):
        load_weights(path)


def test_config_that_does_not_match_the_tensors(saved):
    _, path = saved
    sidecar = path.with_suffix(".json")
    document = json.loads(sidecar.read_text())
    document["network"]["bottleneck_width"] = 32
    sidecar.write_text(json.dumps(document))
    with pytest.raises(WeightsError, match="do not match"):
        load_weights(path)
    document["network"]["colour"] = True
    sidecar.write_text(json.dumps(document))
    with pytest.raises(WeightsError, match="field .network. is invalid"):
        load_weights(path)


def test_a_pickle_posing_as_weights_is_refused(tmp_path, saved):
    model, path = saved
    evil = tmp_path / "evil.safetensors"
    torch.save(model.state_dict(), evil)
    shutil.copy(path.with_suffix(".json"), evil.with_suffix(".json"))
    with pytest.raises(WeightsError, match="pickle"):
        load_weights(evil)
    import pickle

    evil.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(WeightsError, match="pickle"):
        load_weights(evil)
