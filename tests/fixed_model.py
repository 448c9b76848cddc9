"""Weights set by hand, not trained: the same on every CPU, thread count and kernel.

Tests of what the code around the network guarantees (geometry, mapping back to original
pixels, lesions at any threshold, files written, the viewer's drawing) must not depend on
what a short training run happened to learn on the machine the suite runs on: a model
trained in the test session gave a lesion 37% larger on an AVX-512 Xeon than on an AMD
EPYC. This network computes a known function instead:

    p(mass) = sigmoid(GAIN * relu(z - Z_THRESHOLD) - BACKGROUND)

where ``z`` is the working image (z-scored over the breast). A pixel is "mass" at the 0.5
threshold when ``z > Z_THRESHOLD + BACKGROUND / GAIN``; the image score (MIL head) is the
same function of the brightest pixel. Every path that is not needed is zero, every
BatchNorm the identity, so the residual U-Net carries ``z`` through the first encoder
stage's shortcut, the last skip connection and the final exit.

A phantom whose mass is brighter than any tissue (``synthetic.phantom(..., crisp=True)``)
then has exactly one right answer, the mass disc, up to the resampling to the working
spacing and back.
"""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import TINY_NET

from hds_core.nn import HDSConfig, HDSUNet, ModelSpec, save_weights

Z_THRESHOLD = 2.0
GAIN = 40.0
BACKGROUND = 4.0  # logit offset: p = sigmoid(-4) = 0.018 where z <= Z_THRESHOLD
WORKING_SPACING_MM = 0.4


def _identity_everywhere(model: HDSUNet) -> None:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.zero_()
                module.running_mean.zero_()
                module.running_var.fill_(1.0)  # x / sqrt(1 + eps): the identity to 5e-6
            elif isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                module.weight.zero_()
                if module.bias is not None:
                    module.bias.zero_()


def intensity_network() -> HDSUNet:
    model = HDSUNet(HDSConfig.from_dict(TINY_NET))
    _identity_everywhere(model)
    with torch.no_grad():
        # First encoder block (1 -> 8 channels): its 1x1 shortcut copies z into channel 0;
        # the residual branch is zero, so the first skip connection carries z.
        model.encoder[0][0].shortcut.weight[0, 0] = 1.0
        # Last fusion: [upsampled decoder (8), skip (8)] -> 8. Its BatchNorm shifts the
        # skip's channel 0 by -Z_THRESHOLD before the ReLU; the 1x1 conv keeps only that.
        fusion = model.fusions[-1].fuse
        skip_channel = model.config.decoder_widths[-2]
        fusion[0].bias[skip_channel] = -Z_THRESHOLD
        fusion[2].weight[0, skip_channel] = 1.0
        # Final exit: relu(z - T) in channel 0 -> class logits (BACKGROUND, GAIN * relu).
        for head in (model.seg_heads[-1], model.mil_heads[-1]):
            head.classify[2].weight[1, 0] = GAIN
            head.classify[2].bias[0] = BACKGROUND
    return model.eval()


def write_intensity_model(path: str | Path, *, default_threshold: float = 0.5) -> Path:
    """Write the hand-set network as NAME.safetensors + NAME.json, as training would."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = intensity_network()
    spec = ModelSpec(
        network=network.config,
        model_name="intensity-oracle",
        score_source="mil",
        default_threshold=default_threshold,
        working_spacing_mm=WORKING_SPACING_MM,
        provenance={
            "mode": "hds",
            "note": "hand-set test weights (tests/fixed_model.py): mass where the z-scored image exceeds "
            f"{Z_THRESHOLD + BACKGROUND / GAIN:g}",
        },
    )
    save_weights(path, network, spec)
    return path
