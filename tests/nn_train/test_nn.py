"""The network's output contract and building blocks."""

import pytest
import torch
from conftest import TINY_NET

from hds_core.nn import HDSConfig, HDSUNet, pad_to_multiple
from hds_core.nn.hds_unet import MILHead


def test_paper_defaults():
    config = HDSConfig()
    assert config.encoder_widths == (16, 32, 64, 128, 128) and config.bottleneck_width == 128
    assert config.decoder_widths == (128, 128, 64, 32, 16) and config.num_exits == 6
    assert config.upsampler == "bilinear" and config.size_multiple == 32


def test_training_returns_every_exit_eval_only_the_final():
    model = HDSUNet(HDSConfig(**TINY_NET))
    x = torch.randn(2, 1, 128, 96)
    model.train()
    out = model(x)
    assert len(out.seg_logits) == len(out.mil_logits) == len(out.instance_logits) == 6
    for seg, mil, inst in zip(out.seg_logits, out.mil_logits, out.instance_logits):
        assert seg.shape == (2, 2, 128, 96) and mil.shape == (2, 2) and inst.shape == (2, 2, 1, 1)
    model.eval()
    with torch.no_grad():
        final = model(x)
        every = model(x, all_exits=True)
    assert len(final.seg_logits) == 1 and len(every.seg_logits) == 6
    torch.testing.assert_close(final.final_seg, every.final_seg)


def test_mil_grid_has_one_cell_per_128_pixels():
    model = HDSUNet(HDSConfig(**TINY_NET)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 256, 384), all_exits=True)
    assert all(inst.shape[-2:] == (2, 3) for inst in out.instance_logits)


def test_input_not_multiple_of_32_is_refused_with_the_padded_size():
    model = HDSUNet(HDSConfig(**TINY_NET))
    with pytest.raises(ValueError, match=r"\(128, 128\)"):
        model(torch.randn(1, 1, 100, 120))
    padded, size = pad_to_multiple(torch.randn(1, 1, 100, 120), 32)
    assert padded.shape[-2:] == (128, 128) and size == (100, 120)


def test_transposed_upsampler_and_config_round_trip():
    config = HDSConfig(**{**TINY_NET, "upsampler": "transposed"})
    assert HDSConfig.from_dict(config.to_dict()) == config
    model = HDSUNet(config).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 64, 64)).final_seg.shape == (1, 2, 64, 64)
    with pytest.raises(ValueError):
        HDSConfig.from_dict({**config.to_dict(), "colour": True})


def test_mil_head_picks_the_cell_with_the_lowest_background_probability():
    head = MILHead(2, 2, reduction=1)
    head.reduce = torch.nn.Identity()
    head.classify = torch.nn.Identity()
    features = torch.zeros(1, 2, 2, 2)
    features[0, :, 1, 0] = torch.tensor([-1.0, 3.0])  # the most suspicious cell
    features[0, :, 0, 1] = torch.tensor([0.0, 1.0])
    image_logits, instances = head(features)
    assert image_logits.tolist() == [[-1.0, 3.0]] and instances.shape == (1, 2, 2, 2)


def test_paper_size_network_parameter_count_is_stable():
    # Guards accidental architecture changes (shipped weights depend on it).
    assert sum(p.numel() for p in HDSUNet().parameters()) == 7_671_034


def test_inference_copy_matches_the_network_and_leaves_it_untouched():
    from hds_core.infer.optimize import inference_copy, is_channels_last

    torch.manual_seed(0)
    model = HDSUNet(HDSConfig(**TINY_NET))
    # Non-trivial BatchNorm statistics, as after training.
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, 1, 64, 64) * 3 + 1)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = inference_copy(model)
    x = torch.randn(1, 1, 96, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            fast(x.contiguous(memory_format=torch.channels_last)).final_seg, model(x).final_seg, atol=1e-4, rtol=1e-4
        )
    assert is_channels_last(fast) and not is_channels_last(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
