"""The engine in the viewer: weights load in the background at start; then one analysis run
at a time on its own thread, image by image as they decode, with progress and cancel.
Results are cached by the study (one Prediction per image): the threshold never reruns
the network."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from hds_core.findings import Prediction
from hds_core.findings.lesions import preload
from hds_core.infer.events import PredictionCancelled
from hds_core.infer.shipped import network_input_of
from hds_core.io import MammoImage

from .worker import Worker

if TYPE_CHECKING:
    from hds_core.infer.models import DomainModels


class Engine(QObject):
    ready = Signal(object)  # the Predictor
    unavailable = Signal(str)  # why the engine cannot run (weights missing or broken, device)
    predicted = Signal(object, object)  # key, Prediction (keys are paths: see loading.py)
    failed = Signal(object, str)  # key, message
    progress = Signal(int, int)  # images done, images queued in this run
    settled = Signal(bool)  # every queued image is done (True) or the run was cancelled (False)
    # key, StackPrediction of the slabs so far, slabs done, slabs in all: a tomosynthesis stack
    # is analysed slab by slab, and each slab's result is on screen as it comes.
    stack_progress = Signal(object, object, int, int)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = Worker("engine", self)
        self._loader = Worker("engine-load", self)  # cancelling a run never cancels the weights' loading
        self.predictor: DomainModels | None = None
        self.error: str | None = None
        self.done = self.total = 0
        self._waiting: list[tuple[str, object, float | None]] = []  # (key, MammoImage or stack Path, spacing)
        self._refiners: dict[str, object] = {}  # stack key -> slice index -> its own Prediction (network)
        self.lesion_threshold = None  # () -> the threshold on screen, read from the engine's thread
        self._load: tuple | None = None  # (weights, device) until start() builds the Predictor
        # Known before the weights have loaded, so that films are read at the network's level from the start.
        self.network_input = None  # hds_core.network_input.NetworkInput, or None when the weights cannot be read

    @property
    def busy(self) -> bool:
        return self.done < self.total

    @property
    def loading(self) -> bool:
        return self.predictor is None and self.error is None

    def load(self, weights: str | Path | None = None, device: str = "auto", *, start: bool = True) -> None:
        """Read the weights' spec now (which level of a film to read for the network) and, with
        ``start``, build the Predictor on the loader's thread; else :meth:`start` does later."""
        self.network_input = network_input_of(weights)
        self._load = (weights, device)
        if start:
            self.start()

    def start(self) -> None:
        """Build the Predictor on the loader's thread (once; later calls do nothing)."""
        if self._load is None:
            return
        (weights, device), self._load = self._load, None

        def failed(exc: Exception) -> None:
            self.error = f"AI engine not available: {exc}"
            self._waiting.clear()
            self.done = self.total = 0
            self.progress.emit(0, 0)  # images queued while the weights loaded: none will be analysed
            self.unavailable.emit(self.error)

        def load(cancelled):
            # torch is imported here, on the loader's thread, while the decoder reads the films:
            # the window and the first films are on screen before it is needed.
            from hds_core.infer.models import DomainModels

            predictor = DomainModels(weights, device=device)
            # What outlining lesions imports (0.3 s) too, here: an import on another thread
            # once the engine is running would hold the window up (its longest stall: 130 ms).
            preload()
            return predictor

        self._loader.submit(load, self._loaded, failed)

    def _loaded(self, predictor: DomainModels) -> None:
        self.predictor = predictor
        self.ready.emit(predictor)
        waiting, self._waiting = self._waiting, []
        for key, image, spacing_mm in waiting:
            self._submit(key, image, spacing_mm)

    def new_run(self) -> None:
        """Forget the queued images (a new study was opened)."""
        self.cancel(quiet=True)

    def add(self, key: str, image: MammoImage, spacing_mm: float | None = None) -> None:
        """``spacing_mm``: the reader's spacing for an image whose file carries none (else the
        estimate from its size is used, and said)."""
        if self.error is not None:
            return
        self.total += 1
        self.progress.emit(self.done, self.total)
        if self.predictor is None:
            self._waiting.append((key, image, spacing_mm))
        else:
            self._submit(key, image, spacing_mm)

    def _submit(self, key: str, image, spacing_mm: float | None = None) -> None:
        if isinstance(image, Path):
            self._submit_stack(key, image, spacing_mm)
            return
        predictor = self.predictor
        spacing = (spacing_mm, spacing_mm) if spacing_mm and not image.metadata.spacing_known else None

        def job(cancelled) -> Prediction:
            prediction = predictor.predict(image, cancel=cancelled, spacing_mm=spacing)
            if self.lesion_threshold is not None:
                # Outlined here, on the engine's thread, at the threshold on screen: the window
                # then only draws them (the first outlines also import scikit-image: 0.3 s).
                prediction.lesions(self.lesion_threshold())
            return prediction

        self.worker.submit(job, *self._outcome(key))

    def _outcome(self, key: str, name=str, kept=None):
        """(done, error) for an image's job: counted, its result or its failure (``name(exc)``:
        the message) emitted, settled when it was the last; ``kept(value)`` -> the Prediction."""

        def done(value) -> None:
            self._step()
            self.predicted.emit(key, kept(value) if kept else value)
            self._maybe_settled()

        def error(exc: Exception) -> None:
            self._step()
            if not isinstance(exc, PredictionCancelled):
                self.failed.emit(key, name(exc))
            self._maybe_settled()

        return done, error

    def add_stack(self, key: str, path: Path, spacing_mm: float | None = None) -> None:
        """A tomosynthesis stack, analysed slab by slab from its file (infer/stack.py): each
        slab's result arrives through ``stack_progress``, the whole through ``predicted``."""
        self.add(key, Path(path), spacing_mm)

    def _submit_stack(self, key: str, path: Path, spacing_mm: float | None) -> None:
        from hds_core.infer.stack import predict_stack
        from hds_core.io.dicom import StackReader

        predictor = self.predictor

        def job(cancelled):
            stack = StackReader(path)
            spacing = (spacing_mm, spacing_mm) if spacing_mm and stack.metadata.pixel_spacing_mm is None else None

            def progress(done: int, total: int, partial) -> None:
                if not cancelled():
                    self.stack_progress.emit(key, partial, done, total)

            result = predict_stack(
                lambda image: predictor.predict(image, cancel=cancelled, spacing_mm=spacing),
                stack,
                level=predictor.input.level(spacing or stack.metadata.spacing_for_network),
                progress=progress,
                cancel=cancelled,
            )
            if self.lesion_threshold is not None:
                result.findings(self.lesion_threshold())  # each finding's slice found here, not on the window's thread
            refine, result.refine = result.refine, None
            return result, refine

        def kept(value):
            result, self._refiners[key] = value  # its slices' own analyses run here again at a new threshold
            return result

        def name(exc: Exception) -> str:
            return f"{path}: {exc}" if str(path) not in str(exc) else str(exc)

        self.worker.submit(job, *self._outcome(key, name, kept))

    def refine_stacks(self, results: dict, threshold: float, on_done) -> None:
        """The findings of analysed stacks (key -> StackPrediction) at a new ``threshold``, each
        on its own best slice (the network on the slices of their slabs), on the engine's
        thread; ``on_done(keys)`` then. Until it is done the window shows each finding on its
        slab's middle slice."""
        jobs = {key: result for key, result in results.items() if key in self._refiners}
        if not jobs or self.predictor is None:
            return

        def job(cancelled):
            for key, result in jobs.items():
                if cancelled():
                    break
                result.refined_findings(threshold, self._refiners[key])
            return list(jobs)

        self.worker.submit(job, on_done)

    def _step(self) -> None:
        self.done += 1
        self.progress.emit(self.done, self.total)

    def _maybe_settled(self) -> None:
        if self.done >= self.total:
            self.settled.emit(True)

    def cancel(self, quiet: bool = False) -> None:
        was_busy = self.busy or bool(self._waiting)
        self._refiners.clear()
        self.worker.cancel()
        self._waiting.clear()
        self.done = self.total = 0
        self.progress.emit(0, 0)
        if was_busy and not quiet:
            self.settled.emit(False)

    def shutdown(self, timeout: float = 2.0) -> bool:
        self._waiting.clear()
        stopped = self.worker.shutdown(timeout)
        self._loader.shutdown(0.05)
        return stopped
