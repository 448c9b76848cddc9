"""Scanning a folder off the UI thread, and handing its images to the decoder processes
(decoding.py) in reading order, so the first image shows while the others still decode.

A JPEG 2000 film is first read at the reduced level that fills its view (``decode``); its
full resolution follows on request (``want_detail``), one film at a time, so that a film the
reader zooms into goes before the ones decoded only in case."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from hds_core.io import scan_folder

from .decoding import DecoderPool
from .worker import Worker

STACK_CHUNK = 4  # slices a background job decodes: about 0.2 s at a view's level of a 2000 x 2500 slice


class StudyLoader(QObject):
    scanned = Signal(object)  # ScanResult
    scan_failed = Signal(str)
    scan_progress = Signal(int, str)  # files looked at, current file
    # Keys travel as Python objects: a Signal(str) would cut a non-UTF-8 file name short at
    # its first undecodable byte (Qt strings cannot hold lone surrogates) and the key would not match.
    decoded = Signal(object, object)  # key, DecodedImage
    failed = Signal(object, str)  # key, message
    detailed = Signal(object, object)  # key, DecodedImage at full resolution
    detail_failed = Signal(object, str)  # key, message
    sliced = Signal(object, int, object)  # key, slice index, DecodedImage of that slice of a stack
    stack_loaded = Signal(object, int, object)  # key, level, {slice index: MammoImage}: more of a stack's slices
    stack_failed = Signal(object, str)  # key, message: its slices are decoded one by one instead
    _stack_done = Signal(object, object, int, object, int)  # key, path, level, future, generation
    slice_failed = Signal(object, int, str)  # key, slice index, message
    _slice_done = Signal(object, object, int, object, int)  # key, path, index, future, generation
    idle = Signal()
    _detail_done = Signal(object, object, object, int)  # key, path, future, generation (from the pool's thread)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = Worker("loader", self)
        self.worker.busy_changed.connect(lambda busy: None if busy else self.idle.emit())
        self.decoders = DecoderPool()
        self._futures: list = []
        self._detail_queue: list[tuple[str, Path]] = []
        self._detail_running: tuple[str, object] | None = None  # key, future
        self._detail_generation = 0
        self._detail_done.connect(self._on_detail_done)
        # Stack slices: one decode per stack at a time, the latest wish wins (a reader rolling
        # the wheel through 30 slices waits for the one she stops at, not the 29 before it).
        self._slice_wanted: dict[object, tuple[Path, int]] = {}
        self._slice_running: set = set()
        self._slice_done.connect(self._on_slice_done)
        self._stack_done.connect(self._on_stack_done)
        self._stacks_queued: list[list] = []  # [key, path, level, chunks of slice indices still to decode]
        self._stack_running = False
        # key -> (preset, invert) on screen when a film's full resolution is started: it arrives rendered so.
        self.window_of = lambda key: (None, False)

    def open(self, path: str | Path) -> None:
        """Scan ``path`` (a folder or a file); cancels whatever was loading before."""
        self.worker.cancel()
        path = Path(path)

        def job(cancelled):
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such file or folder")
            return scan_folder(
                path, progress=lambda done, current: self.scan_progress.emit(done, str(current)), cancelled=cancelled
            )

        self.worker.submit(job, self.scanned.emit, lambda exc: self.scan_failed.emit(str(exc)))

    def decode(
        self,
        items: list[tuple[str, Path]],
        thumbnail_height: int = 96,
        screen_shape: tuple[int, int] | None = None,
        network=None,
    ) -> None:
        """Decode these images in the decoder process for a first look (at the level that fills
        ``screen_shape``, with the input level of ``network``, a ``NetworkInput``); each
        arrives, in this order, as soon as it is ready."""
        futures = [
            (key, path, self.decoders.submit(path, thumbnail_height, screen_shape, network)) for key, path in items
        ]
        self._futures += [future for _, _, future in futures]
        for key, path, future in futures:
            self.worker.submit(
                lambda cancelled, path=path, future=future: self.decoders.result(future, path),
                lambda result, key=key: self.decoded.emit(key, result),
                lambda exc, key=key: self.failed.emit(key, str(exc)),
            )

    def want_detail(self, items: list[tuple[str, Path]], *, first: bool = False) -> None:
        """Decode these images at full resolution after what is queued (``first``: before it);
        each arrives as ``detailed``. Asking again for a queued or running image does nothing."""
        running = self._detail_running[0] if self._detail_running else None
        new = list({key: (key, path) for key, path in items if key != running}.values())
        if first:
            keys = {key for key, _ in new}
            self._detail_queue = new + [item for item in self._detail_queue if item[0] not in keys]
        else:
            queued = {key for key, _ in self._detail_queue}
            self._detail_queue += [item for item in new if item[0] not in queued]
        self._next_detail()

    def detail_pending(self, key: str) -> bool:
        return (self._detail_running is not None and self._detail_running[0] == key) or any(
            k == key for k, _ in self._detail_queue
        )

    def _next_detail(self) -> None:
        if self._detail_running is not None or not self._detail_queue:
            return
        key, path = self._detail_queue.pop(0)
        future = self.decoders.submit_detail(path, *self.window_of(key))
        self._detail_running = (key, future)
        generation = self._detail_generation
        future.add_done_callback(lambda done: self._emit_safely(self._detail_done, key, path, done, generation))

    def _on_detail_done(self, key, path, future, generation: int) -> None:
        if generation != self._detail_generation:
            return  # a study since closed: its film is not wanted (the new study's were started meanwhile)
        self._detail_running = None
        if not future.cancelled():
            try:
                result = self.decoders.result(future, path)
            except Exception as exc:  # noqa: BLE001 - every failure reaches the reader as a message
                self.detail_failed.emit(key, str(exc))
            else:
                self.detailed.emit(key, result)
        self._next_detail()

    def want_slice(
        self, key, path: Path, slice_index: int, slab: tuple[int, bool] = (1, False), level: int = 0
    ) -> None:
        """Decode slice ``slice_index`` of the stack ``key`` at ``level`` (``slab``: that many
        slices around it, by MIP or average); arrives as ``sliced``."""
        self._slice_wanted[key] = (Path(path), slice_index, slab, level)
        self._next_slice(key)

    def load_stack(self, key, path: Path, level: int, frames: int) -> None:
        """Every slice of the stack ``key`` at ``level``, in the background, a few at a time
        from its middle outwards and taking turns with the other stacks (a slice the reader
        asks for waits behind one chunk at most); arrives as ``stack_loaded``."""
        middle = frames // 2
        order = sorted(range(frames), key=lambda index: (abs(index - middle), index))
        chunks = [order[i : i + STACK_CHUNK] for i in range(0, frames, STACK_CHUNK)]
        self._stacks_queued.append([key, Path(path), level, chunks])
        self._next_stack_chunk()

    def _next_stack_chunk(self) -> None:
        if self._stack_running or not self._stacks_queued:
            return
        entry = self._stacks_queued.pop(0)
        key, path, level, chunks = entry
        indices = chunks.pop(0)
        if chunks:
            self._stacks_queued.append(entry)  # its next chunk after the other stacks' turn
        future = self.decoders.submit_stack(path, level, indices)
        self._stack_running = True
        generation = self._detail_generation
        future.add_done_callback(
            lambda done: self._emit_safely(self._stack_done, key, path, level, (indices, done), generation)
        )

    def _on_stack_done(self, key, path, level: int, done, generation: int) -> None:
        if generation != self._detail_generation:
            return
        self._stack_running = False
        indices, future = done
        if not future.cancelled():
            try:
                slices = self.decoders.result(future, path)
            except Exception as exc:  # noqa: BLE001 - every failure reaches the reader as a message
                self._stacks_queued = [entry for entry in self._stacks_queued if entry[0] != key]
                self.stack_failed.emit(key, str(exc))
            else:
                self.stack_loaded.emit(key, level, dict(zip(indices, slices, strict=True)))
        self._next_stack_chunk()

    def _next_slice(self, key) -> None:
        if key in self._slice_running or key not in self._slice_wanted:
            return
        path, index, slab, level = self._slice_wanted.pop(key)
        future = self.decoders.submit_slice(path, index, *self.window_of(key), slab, level)
        self._slice_running.add(key)
        generation = self._detail_generation
        future.add_done_callback(lambda done: self._emit_safely(self._slice_done, key, path, index, done, generation))

    @staticmethod
    def _emit_safely(signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window is gone
            pass

    def _on_slice_done(self, key, path, index: int, future, generation: int) -> None:
        if generation != self._detail_generation:
            return
        self._slice_running.discard(key)
        if key not in self._slice_wanted and not future.cancelled():  # a newer wish makes this one stale
            try:
                result = self.decoders.result(future, path)
            except Exception as exc:  # noqa: BLE001 - every failure reaches the reader as a message
                self.slice_failed.emit(key, index, str(exc))
            else:
                self.sliced.emit(key, index, result)
        self._next_slice(key)

    def cancel(self) -> None:
        self.worker.cancel()
        self._slice_wanted.clear()
        self._slice_running.clear()
        self._stacks_queued.clear()
        self._stack_running = False
        running = [self._detail_running[1]] if self._detail_running else []
        for future in self._futures + running:
            # Films not started yet are dropped; one being decoded finishes unseen.
            getattr(future, "source", future).cancel()
        self._futures = []
        self._detail_queue, self._detail_running = [], None
        self._detail_generation += 1

    def shutdown(self, timeout: float = 2.0) -> bool:
        self.cancel()
        stopped = self.worker.shutdown(timeout)
        self.decoders.shutdown()
        return stopped
