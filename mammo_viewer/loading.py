"""Scanning a folder and decoding its images off the UI thread, one image at a time, so the
first image shows while the others still decode."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from hds_core.data.preprocess import breast_mask, chest_wall_on_right
from hds_core.io import MammoImage, read_image, scan_folder

from .worker import Worker

PIXEL_ORIENTATION_STRIDE = 8  # the chest-wall side is a coarse question: a 1/8 image answers it


def decode(path: Path) -> tuple[MammoImage, bool | None]:
    """The image, and its chest-wall side read from the pixels when PatientOrientation is missing."""
    image = read_image(path)
    chest_wall_right = None
    if image.metadata.patient_orientation is None:
        small = image.model_input()[::PIXEL_ORIENTATION_STRIDE, ::PIXEL_ORIENTATION_STRIDE]
        chest_wall_right = chest_wall_on_right(breast_mask(small))
    return image, chest_wall_right


class StudyLoader(QObject):
    scanned = Signal(object)  # ScanResult
    scan_failed = Signal(str)
    scan_progress = Signal(int, str)  # files looked at, current file
    decoded = Signal(str, object, object)  # key, MammoImage, chest wall right (or None)
    failed = Signal(str, str)  # key, message
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

    def decode(self, items: list[tuple[str, Path]]) -> None:
        """Decode these images in order; each arrives as soon as it is ready."""
        for key, path in items:
            self.worker.submit(lambda cancelled, path=path: decode(path),
                               lambda result, key=key: self.decoded.emit(key, *result),
                               lambda exc, key=key: self.failed.emit(key, str(exc)))

    def cancel(self) -> None:
        self.worker.cancel()

    def shutdown(self, timeout: float = 2.0) -> bool:
        return self.worker.shutdown(timeout)
