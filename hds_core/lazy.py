"""Packages whose names are imported on first use (PEP 562): importing ``hds_core.nn`` or
``hds_core.report`` for one light name must not import torch or highdicom with it."""

from __future__ import annotations

import sys
from importlib import import_module


def lazy_names(package: str, home: dict[str, str]):
    """The ``__getattr__`` of ``package`` for ``home`` (name -> the submodule defining it)."""

    def attribute(name: str):
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{home[name]}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    return attribute
