"""Shipped resources (weights + model card, demo study, icons) with one lookup that works
from a source checkout, an installed wheel and a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path

WEIGHTS_NAME = "hds_mammo.safetensors"
# The model for digitised films (issue 38: one model per domain); the default one serves
# digital images, and every image when this one is absent.
FILM_WEIGHTS_NAME = "hds_mammo_film.safetensors"
# The film / digital classifier of the pixels (hds_core.io.appearance), for images whose
# header does not say.
DOMAIN_CLASSIFIER_NAME = "domain_classifier.json"


def resource_root() -> Path:
    """The folder holding this package's files: sys._MEIPASS/resources in a PyInstaller
    bundle, the package folder otherwise (checkout and wheel alike)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and (Path(bundle) / "resources").is_dir():
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    return resource_root().joinpath(*parts)


def default_weights() -> Path | None:
    """The shipped weights, or None when this build has none."""
    path = resource_path("weights", WEIGHTS_NAME)
    return path if path.is_file() and path.with_suffix(".json").is_file() else None


def film_weights() -> Path | None:
    """The shipped film model, or None when this build has none."""
    path = resource_path("weights", FILM_WEIGHTS_NAME)
    return path if path.is_file() and path.with_suffix(".json").is_file() else None


def density_models() -> Path | None:
    """The density suggestion's models (hds_core.density), or None when this build has none."""
    path = resource_path("weights", "density.json")
    return path if path.is_file() else None


def domain_classifier() -> Path | None:
    path = resource_path("weights", DOMAIN_CLASSIFIER_NAME)
    return path if path.is_file() else None


def default_protocols() -> Path | None:
    """The shipped hanging protocols (mammo_viewer/reading/protocols.py reads them)."""
    path = resource_path("protocols", "default.toml")
    return path if path.is_file() else None


def demo_study() -> Path | None:
    path = resource_path("demo")
    return path if path.is_dir() and any(path.rglob("*.dcm")) else None


def app_icon() -> Path | None:
    path = resource_path("icons", "mammo-viewer.png")
    return path if path.is_file() else None
