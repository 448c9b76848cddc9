"""The unattended CAD mode of ``hds-node listen --analyse``: each complete study is analysed
once (hds-predict with one loaded Predictor), its SEG and SR kept beside the cache and, when
a destination is given, sent there.

What was analysed is recorded per study version (``.analysed/<uid>.json`` in the cache), so
after a restart the studies received but never analysed are analysed, and none twice; a new
version of a study (more instances arrived) is analysed again. Studies are named by UID only."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..node.cache import CachedStudy, StudyCache
from ..node.errors import NodeError
from ..safe_write import atomic_write_text

log = logging.getLogger(__name__)
ANALYSED = ".analysed"
RESULTS = ".results"


class StudyAnalyst:
    """Analyses each complete study in a child process (``hds-predict`` with
    ``--refuse-damaged``), one study at a time. The child's output reaches the listener's log
    and terminal line by line, prefixed with the study, through a pipe of its own: the
    listener's own stderr is never redirected, so two analyses at once (the restart's catch-up
    and a new arrival) cannot swap it. Each child loads the weights again; the listener loads
    them once at start only to refuse bad weights before it listens."""

    def __init__(self, cache: StudyCache, destination, local, *, weights=None, device="auto", threshold=None) -> None:
        from ..infer import DeviceError, DomainModels
        from ..nn import WeightsError

        try:
            DomainModels(weights, device=device)
        except (WeightsError, DeviceError) as exc:
            raise NodeError(f"cannot analyse: {exc}", fix="check --weights and --device") from None
        self.cache, self.destination, self.local, self.threshold = cache, destination, local, threshold
        self.weights, self.device = weights, device
        self.runs = 0  # analyses started (children run)
        self._one_at_a_time = threading.Lock()
        (cache.root / ANALYSED).mkdir(exist_ok=True)

    def _marker(self, study: CachedStudy) -> Path:
        return self.cache.root / ANALYSED / f"{study.uid}.json"

    def done(self, study: CachedStudy) -> bool:
        try:
            return json.loads(self._marker(study).read_text()).get("version") == study.completed
        except (OSError, ValueError):
            return False

    def results_of(self, study: CachedStudy) -> Path:
        return self.cache.root / RESULTS / study.uid

    def analyse(self, study: CachedStudy) -> bool:
        """Analyse ``study`` (and send its results) unless this version was already; True when done."""
        with self._one_at_a_time:
            return self._analyse(study)

    def _analyse(self, study: CachedStudy) -> bool:
        from . import predict

        if self.done(study):
            log.info("study %s: already analysed", study.uid)
            return True
        out = self.results_of(study)
        # In the desktop bundle the executable is the app, whose "predict" is hds-predict.
        command = (
            [sys.executable, "predict"]
            if getattr(sys, "frozen", False)
            else [sys.executable, "-m", __package__ + ".predict"]
        )
        argv = [
            *command,
            str(study.folder),
            "--out",
            str(out / "json"),
            "--seg-dir",
            str(out / "seg"),
            "--sr-dir",
            str(out / "sr"),
        ]
        argv += ["--force", "--refuse-damaged", "--device", str(self.device)]
        argv += ["--weights", str(self.weights)] if self.weights else []
        argv += ["--threshold", str(self.threshold)] if self.threshold is not None else []
        started = time.monotonic()
        code = self._child(study, argv)
        if code not in (predict.EXIT_OK, predict.EXIT_REFUSED):
            log.error("study %s: not analysed (hds-predict exit %d)", study.uid, code)
            return False
        log.info("study %s: analysed in %.1f s", study.uid, time.monotonic() - started)
        sent = 0
        if self.destination is not None:
            from ..node.scu import send_files

            objects = sorted((out / "seg").glob("*.dcm")) + sorted((out / "sr").glob("*.dcm"))
            try:
                sent = send_files(self.destination, self.local, objects)
            except NodeError as exc:
                log.error("study %s: results not sent: %s", study.uid, exc)
                return False  # no marker: sent again at the next start
            log.info("study %s: %d result object(s) sent to %s", study.uid, sent, self.destination)
        record = {"version": study.completed, "analysed": time.time(), "exit": code, "sent": sent}
        atomic_write_text(self._marker(study), json.dumps(record) + "\n")
        return True

    def _child(self, study: CachedStudy, argv: list[str]) -> int:
        self.runs += 1
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            child = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        except OSError as exc:
            log.error("study %s: the analysis could not start: %s", study.uid, exc.strerror or exc)
            return 3
        assert child.stdout is not None
        for line in child.stdout:  # the formatter escapes whatever the child says
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                log.info("study %s: %s", study.uid, text)
        return child.wait()

    def catch_up(self) -> None:
        """The complete studies in the cache never analysed (received before a restart)."""
        for study in self.cache.studies():
            if not self.done(study):
                try:
                    self.analyse(study)
                except Exception:  # one study must not stop the others: logged in full
                    log.exception("analysing study %s failed", study.uid)
