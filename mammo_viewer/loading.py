"""Scanning a folder and decoding its images off the UI thread, one image at a time, so the
first image shows while the others still decode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from hds_core.data.preprocess import breast_mask, chest_wall_on_right
from hds_core.io import MammoImage, read_image, scan_folder

from .display import ScreenRenderer
from .worker import Worker

PIXEL_ORIENTATION_STRIDE = 8  # the chest-wall side is a coarse question: a 1/8 image answers it


@dataclass
class DecodedImage:
    image: MammoImage
    chest_wall_right: bool | None  # read from the pixels when PatientOrientation is missing
    renderer: ScreenRenderer  # first screen rendering already done (and cached)
    thumbnail: np.ndarray


def decode(path: Path, thumbnail_height: int = 96) -> DecodedImage:
    """Everything heavy about showing an image, done off the UI thread: decoding, window
    statistics, the first screen rendering, the thumbnail, the chest-wall side if needed."""
    image = read_image(path)
    chest_wall_right = None
    if image.metadata.patient_orientation is None:
        small = image.model_input()[::PIXEL_ORIENTATION_STRIDE, ::PIXEL_ORIENTATION_STRIDE]
        chest_wall_right = chest_wall_on_right(breast_mask(small))
    renderer = ScreenRenderer(image)
    renderer.render(image.default_preset)
    return DecodedImage(image, chest_wall_right, renderer, renderer.thumbnail(thumbnail_height))


class StudyLoader(QObject):
    scanned = Signal(object)  # ScanResult
    scan_failed = Signal(str)
    scan_progress = Signal(int, str)  # files looked at, current file
    # Keys travel as Python objects: a Signal(str) would cut a non-UTF-8 file name short at
    # its first undecodable byte (Qt strings cannot hold lone surrogates) and the key would not match.
    decoded = Signal(object, object)  # key, DecodedImage
    failed = Signal(object, str)  # key, message
    idle = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = Worker("loader", self)
        self.worker.busy_changed.connect(lambda busy: None if busy else self.idle.emit())

    def open(self, path: str | Path) -> None:
        """Scan ``path`` (a folder or a file); cancels whatever was loading before."""
        self.worker.cancel()
        path = Path(path)

        def job(cancelled):
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such file or folder")
            return scan_folder(path, progress=lambda done, current: self.scan_progress.emit(done, str(current)),
                               cancelled=cancelled)

        self.worker.submit(job, self.scanned.emit, lambda exc: self.scan_failed.emit(str(exc)))

    def decode(self, items: list[tuple[str, Path]], thumbnail_height: int = 96) -> None:
        """Decode these images in order; each arrives as soon as it is ready."""
        for key, path in items:
            self.worker.submit(lambda cancelled, path=path: decode(path, thumbnail_height),
                               lambda result, key=key: self.decoded.emit(key, result),
                               lambda exc, key=key: self.failed.emit(key, str(exc)))

    def cancel(self) -> None:
        self.worker.cancel()

    def shutdown(self, timeout: float = 2.0) -> bool:
        return self.worker.shutdown(timeout)
