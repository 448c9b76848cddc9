import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

import synthetic

TINY_NET = {
    "encoder_widths": [8, 8, 16, 16, 16],
    "bottleneck_width": 16,
    "decoder_widths": [16, 16, 16, 8, 8],
    "blocks_per_stage": 1,
}
# The same network as hds-train options (--net KEY=VALUE).
TINY_NET_ARGS = [f"--net={k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in TINY_NET.items()]


@pytest.fixture(autouse=True)
def own_readings_folder(tmp_path_factory, monkeypatch):
    """Each test's viewer keeps its readings in a folder of its own, never the user's."""
    monkeypatch.setenv("MAMMO_VIEWER_READINGS", str(tmp_path_factory.mktemp("readings")))


@pytest.fixture(scope="session")
def phantom_dataset(tmp_path_factory) -> Path:
    return synthetic.phantom_folder_dataset(tmp_path_factory.mktemp("phantoms") / "ds", n_images=8)


@pytest.fixture(scope="session")
def phantom_model(tmp_path_factory) -> Path:
    """Hand-set weights with a known output (``fixed_model.py``): the same on every CPU, for
    every test of what the code does with a model's output."""
    from fixed_model import write_intensity_model

    return write_intensity_model(tmp_path_factory.mktemp("fixed") / "intensity.safetensors")


@pytest.fixture(scope="session")
def trained_phantom_model(tmp_path_factory, phantom_dataset) -> Path:
    """A tiny network trained briefly on phantoms, for the tests of training, evaluation and
    export themselves. Its weights differ from CPU to CPU (float kernels, thread counts):
    assert only what holds for any correctly trained model, or consistency between calls."""
    from hds_core.train.config import TrainConfig
    from hds_core.train.loop import train

    out = tmp_path_factory.mktemp("trained")
    config = TrainConfig(
        datasets=[f"folder:{phantom_dataset}"],
        out=str(out),
        epochs=12,
        batch_size=4,
        lr=0.05,
        crop=[96, 96],
        samples_per_epoch=16,
        folds=2,
        fold=0,
        network=TINY_NET,
        dice_weight=1.0,
        precision="fp32",
        lr_milestones=[0.8],
    )
    summary = train(config)
    return out / "last.safetensors", summary


def gpu_that_fails(monkeypatch, predictor) -> None:
    """Put ``predictor`` (a Predictor, or DomainModels: each of its models) on a pretend GPU
    whose every run fails with CUDA out of memory (no GPU is needed: the CPU fallback is what
    is tested)."""
    import torch

    from hds_core.infer import predictor as predictor_module

    for each in getattr(predictor, "predictors", [predictor]):
        each.device = torch.device("cuda")
    real = predictor_module.predict_working

    def flaky(model, image, device, **kwargs):
        if device.type == "cuda":
            raise RuntimeError("CUDA error: out of memory")
        return real(model, image, device, **kwargs)

    monkeypatch.setattr(predictor_module, "predict_working", flaky)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)


def run_viewer(*args, **env_extra):
    """mammo-viewer in a separate process, as a user runs it (``--screenshot`` starts and quits
    its own event loop)."""
    import subprocess

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "mammo_viewer.app", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def viewer_on(qtbot, weights, folder, settings_dir, timeout_ms=60000):
    """A viewer window with its own settings, shown, with ``folder`` opened and settled."""
    from PySide6.QtCore import QSettings

    from mammo_viewer.main_window import MainWindow

    window = MainWindow(
        weights=str(weights),
        device="cpu",
        settings=QSettings(str(Path(settings_dir) / "s.ini"), QSettings.Format.IniFormat),
    )
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.study_settled, timeout=timeout_ms):
        window.open_path(str(folder))
    return window
