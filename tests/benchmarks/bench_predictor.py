"""Predictor vs a plain fp32 eager forward of the same network with all exits.

Both run on the same working image (the Predictor's own preprocessing output), so the
ratio measures what the Predictor does differently (final exit only, inference mode,
reduced precision where verified) and includes its extra work (DICOM-order rendering,
resampling, breast crop, mapping back). Target: ratio <= 0.35 with mask Dice >= 0.99.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic import phantom, write_dicom

from hds_core.eval.metrics import dice
from hds_core.infer import Predictor
from hds_core.io import read_image
from hds_core.network_input import pad_value
from hds_core.nn import HDSUNet, ModelSpec, load_weights, pad_to_multiple, save_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import Row, write_rows


def eager_all_exits(model: HDSUNet, image: np.ndarray) -> tuple[np.ndarray, float]:
    """The plain way: fp32, eval mode, no_grad, every exit computed."""
    start = time.perf_counter()
    with torch.no_grad():
        x, (h, w) = pad_to_multiple(torch.from_numpy(image)[None, None], 32, value=pad_value(image))
        out = model(x, all_exits=True)
        probability = out.seg_logits[-1].softmax(1)[0, 1, :h, :w].numpy()
    return probability, time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--weights", help="weights to time (default: the shipped ones, else the paper-size network untrained)"
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the figures as rows for run_all.py")
    args = p.parse_args()
    results: list[Row] = []

    from resources import default_weights

    weights = args.weights or default_weights()
    tmp = Path(tempfile.mkdtemp())
    if weights is None:
        weights = tmp / "untrained.safetensors"
        torch.manual_seed(0)
        network = HDSUNet().eval()
        save_weights(weights, network, ModelSpec(network=network.config, model_name="untrained paper-size HDS"))
    predictor = Predictor(weights, device="cpu")
    model, _ = load_weights(weights)  # the plain network, as loaded: the baseline

    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, native bf16: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}"
    )
    print(f"weights: {weights} ({predictor.model_name}); predictor precision: {predictor.precision}")
    print(f"{'image':>10} {'working':>9} {'eager all exits':>16} {'Predictor':>10} {'ratio':>6} {'mask Dice':>9}")
    for rows, cols in ((512, 512), (768, 1024)):
        pixels, _ = phantom((rows, cols), seed=7, mass_radius=min(rows, cols) // 12)
        # Spacing 0.4 mm: the network sees it at its working spacing (half size at the shipped 0.8 mm).
        path = write_dicom(
            tmp / f"{rows}x{cols}.dcm", pixels, ImagerPixelSpacing=[0.4, 0.4], WindowCenter=2048, WindowWidth=4096
        )
        image = read_image(path)
        predictor.predict(image)  # warm-up (allocator, kernels)
        eager_all_exits(model, np.zeros((64, 64), np.float32))
        predictor_times, eager_times = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            prediction = predictor.predict(image)
            prediction.probability_map()
            predictor_times.append(time.perf_counter() - start)
        working = predictor.model_input(image)  # the same input the Predictor gives its network
        for _ in range(args.repeats):
            reference, seconds = eager_all_exits(model, working.image)
            eager_times.append(seconds)
        agreement = dice(prediction.working_probability >= 0.5, reference >= 0.5)
        eager, ours = statistics.median(eager_times), statistics.median(predictor_times)
        print(
            f"{cols:>4}x{rows:<5} {working.image.shape[1]:>4}x{working.image.shape[0]:<4} {eager * 1000:>13.0f} ms "
            f"{ours * 1000:>7.0f} ms {ours / eager:>6.2f} {agreement:>9.4f}"
        )
        size = f"{cols}x{rows} ({working.image.shape[1]}x{working.image.shape[0]} network input)"
        bench = f"Predictor vs eager forward, {predictor.device_name} {predictor.precision}"
        results.extend(
            [
                Row(bench, f"{size}: plain eager forward, all 6 exits", eager * 1000, "ms"),
                Row(bench, f"{size}: Predictor.predict()", ours * 1000, "ms"),
                Row(bench, f"{size}: ratio", ours / eager, "x", "≤ 0.35", ours / eager <= 0.35),
                Row(bench, f"{size}: mask Dice vs eager", agreement, "", "≥ 0.99", agreement >= 0.99),
            ]
        )
    write_rows(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
