"""One background thread that runs jobs in order and hands their results to the UI thread.

Heavy work (scanning, decoding, inference) never runs on the UI thread. Each job gets a
``cancelled()`` check; :meth:`Worker.cancel` drops queued jobs and makes the running one's
check return True, and results of cancelled jobs are never delivered."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class Worker(QObject):
    _delivered = Signal(object, object, int)  # callback, value, generation
    busy_changed = Signal(bool)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs: queue.Queue = queue.Queue()
        self._generation = 0
        self._pending = 0
        self._lock = threading.Lock()
        self._closing = False
        self._delivered.connect(self._deliver)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def submit(
        self,
        job: Callable[[Callable[[], bool]], object],
        on_done: Callable[[object], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run ``job(cancelled)`` on the thread; then ``on_done(value)`` or ``on_error(exc)``
        on the UI thread, unless cancelled meanwhile."""
        with self._lock:
            self._pending += 1
            if self._pending == 1:
                self.busy_changed.emit(True)
            self._jobs.put((self._generation, job, on_done, on_error))

    def cancel(self) -> None:
        with self._lock:
            self._generation += 1

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel everything and stop the thread; True if it stopped within ``timeout``."""
        self._closing = True
        self.cancel()
        self._jobs.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            generation, job, on_done, on_error = item

            def cancelled(generation=generation) -> bool:
                return self._closing or generation != self._generation

            try:
                if cancelled():
                    continue
                value = job(cancelled)
            except Exception as exc:
                if not cancelled():
                    log.warning("%s job failed: %s", self._thread.name, exc, exc_info=not hasattr(exc, "path"))
                    if on_error is not None:
                        self._emit(on_error, exc, generation)
            else:
                if on_done is not None and not cancelled():
                    self._emit(on_done, value, generation)
            finally:
                self._emit(None, None, -1)  # job accounting on the UI thread

    def _emit(self, callback, value, generation: int) -> None:
        try:
            self._delivered.emit(callback, value, generation)
        except RuntimeError:  # the window is gone (closed during a job): nothing to tell
            pass

    def _deliver(self, callback, value, generation: int) -> None:
        if callback is None:
            with self._lock:
                self._pending -= 1
                idle = self._pending == 0
            if idle:
                self.busy_changed.emit(False)
            return
        if generation == self._generation and not self._closing:
            callback(value)


def stop_together(loader, engine, exporter, wait_s: float) -> float:
    """Closing: cancel decoding and inference together (both check for it inside), then wait
    for them ``wait_s`` at most in all. A report being written is let finish: it is written
    atomically, so even a cut-short one would leave nothing behind. Returns the seconds taken."""
    import time

    start = time.monotonic()
    loader.cancel()
    engine.cancel(quiet=True)
    exporter.shutdown(5.0 if exporter.busy else 0.5)  # an idle one stops at once
    remaining = lambda: max(0.05, wait_s - (time.monotonic() - start))  # noqa: E731
    if not (loader.shutdown(remaining()) & engine.shutdown(remaining())):
        log.warning("background work did not stop within %.0f s; exiting anyway", wait_s)
    return time.monotonic() - start
