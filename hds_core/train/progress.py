"""Progress within an epoch: a bar with rate and ETA on a terminal (tqdm), plain lines in a log
(every tenth of the epoch, and at least every 30 s), so a run followed through ``tail -f``
or a batch system's log is not silent for the minutes an epoch takes on a CPU."""

from __future__ import annotations

import logging
import time

from tqdm import tqdm

log = logging.getLogger("hds_core.train.loop")


class BatchProgress:
    def __init__(self, total: int, description: str, *, terminal: bool, enabled: bool = True, every_s: float = 30.0):
        self.total, self.description, self.every_s = total, description, every_s
        self.enabled, self.terminal = enabled, terminal
        self.bar = tqdm(total=total, desc=description, leave=False) if enabled and terminal else None
        self.done, self.started = 0, time.monotonic()
        self._last_line, self._next_step = self.started, max(1, total // 10)

    def step(self, loss: float) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix(loss=f"{loss:.4f}")
            return
        now = time.monotonic()
        if self.done == self.total or self.done % self._next_step == 0 or now - self._last_line >= self.every_s:
            self._last_line = now
            elapsed = now - self.started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            log.info(
                "%s: batch %d/%d, loss %.4f, %.2f batches/s, %.0f s left",
                self.description,
                self.done,
                self.total,
                loss,
                rate,
                eta,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
