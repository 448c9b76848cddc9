"""Scanning a folder off the UI thread, and handing its images to the decoder processes
(decoding.py) in reading order, so the first image shows while the others still decode."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from hds_core.io import scan_folder

from .decoding import DecoderPool
from .worker import Worker


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
        self.decoders = DecoderPool()
        self._futures: list = []

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
        """Decode these images in the decoder process; each arrives, in this order, as soon
        as it is ready."""
        futures = [(key, path, self.decoders.submit(path, thumbnail_height)) for key, path in items]
        self._futures += [future for _, _, future in futures]
        for key, path, future in futures:
            self.worker.submit(lambda cancelled, path=path, future=future: self.decoders.result(future, path),
                               lambda result, key=key: self.decoded.emit(key, result),
                               lambda exc, key=key: self.failed.emit(key, str(exc)))

    def cancel(self) -> None:
        self.worker.cancel()
        for future in self._futures:
            # Films not started yet are dropped; one being decoded finishes unseen.
            getattr(future, "source", future).cancel()
        self._futures = []

    def shutdown(self, timeout: float = 2.0) -> bool:
        self.cancel()
        stopped = self.worker.shutdown(timeout)
        self.decoders.shutdown()
        return stopped
