"""Moving through tomosynthesis stacks, mixed into the grid (view_grid.py): a stack's slice
steps by the wheel and the keys, a slab (thickness in mm, MIP or average, the same for every
view) is asked of the decoder around the slice, cine plays the stacks on screen back and forth
at the reader's speed, and the two views of one breast can follow each other by relative
depth. Slices are decoded elsewhere (the last asked for wins) and arrive through ``sliced``."""

from __future__ import annotations

from PySide6.QtCore import QTimer

from ..reading.stack_reading import displayed_slice

CINE_SPEEDS = (2, 5, 10, 15, 20, 30)  # slices per second the reader steps through
SLAB_THICKNESSES_MM = (0.0, 2.0, 5.0, 10.0, 20.0)  # 0: one slice


class StackNavigation:
    """Needs ``self.state``, ``self.hanging``, ``self.item(key)``, ``self.renderers``,
    ``self.refresh_view_for(key)`` and the grid's signals ``status``, ``slice_wanted`` and
    ``cine_changed``."""

    def init_stacks(self) -> None:
        self.slice_at: dict[str, int] = {}  # stack key -> the slice asked for last (shown once decoded)
        self._cine = QTimer(self)
        self._cine.timeout.connect(self._cine_step)
        self._cine_direction: dict[str, int] = {}
        self.state.observe("cine_fps", lambda fps: self._cine.setInterval(round(1000 / fps)))
        self._cine.setInterval(round(1000 / self.state.cine_fps))
        for name in ("slab_mm", "slab_mip"):
            self.state.observe(name, lambda _: self.reslice())

    def forget_stacks(self) -> None:
        self.slice_at = {}
        self._cine_direction = {}

    def stacks_on_screen(self) -> list[str]:
        keys = [p.key for p in self.hanging.placements] if self.hanging else []
        return [key for key in keys if self.shown_slice(key) is not None]

    def shown_slice(self, key: str) -> int | None:
        """The slice (0-based, spatial order) of stack ``key`` asked for last, or on screen."""
        if key in self.slice_at:
            return self.slice_at[key]
        item = self.item(key)
        return displayed_slice(item.image.metadata) if item.image is not None else None

    def go_to_slice(self, key: str, index: int) -> None:
        """Show slice ``index`` (0-based, spatial order) of stack ``key``."""
        current = self.shown_slice(key)
        if current is not None:
            self.step_slice(key, index - current)

    def step_slice(self, key: str, step: int, *, follow: bool = True) -> None:
        """Move stack ``key`` by ``step`` slices (clamped to its ends); with the depth link on,
        the other view of its breast goes to the same relative depth."""
        current = self.shown_slice(key)
        if current is None:
            return
        slices = self.item(key).metadata.frames
        wanted = min(max(current + step, 0), slices - 1)
        if wanted != current:
            self._want(key, wanted)
            if follow and self.state.depth_link:
                self._follow_depth(key, wanted / max(slices - 1, 1))

    def _want(self, key: str, index: int) -> None:
        self.slice_at[key] = index
        self.slice_wanted.emit(key, index)

    def _follow_depth(self, key: str, fraction: float) -> None:
        """The same breast's other stacks on screen (its other view, of the same study) to
        ``fraction`` of their depth: CC and MLO are compressed along different axes, so this is
        where to look, not the same tissue."""
        item = self.item(key)
        side, study = item.metadata.laterality, item.metadata.study_instance_uid
        for other in self.stacks_on_screen():
            meta = self.item(other).metadata
            if other != key and side and meta.laterality == side and meta.study_instance_uid == study:
                index = round(fraction * (meta.frames - 1))
                if index != self.shown_slice(other):
                    self._want(other, index)

    def step_slices(self, step: int) -> None:
        """The keyboard's step: the selected view's stack, else every stack on screen."""
        stacks = self.stacks_on_screen()
        selected = self.state.selected
        for key in [selected] if selected in stacks else stacks:
            self.step_slice(key, step, follow=selected in stacks)

    def reslice(self) -> None:
        """The slab changed: every stack on screen again at its slice, as the new slab."""
        for key in self.stacks_on_screen():
            self._want(key, self.shown_slice(key))

    def stack_opened(self, key: str) -> None:
        """A stack's first image (one slice) is on screen: as a slab, when the reader has one."""
        if self.state.slab_mm > 0 and self.shown_slice(key) is not None:
            self._want(key, self.shown_slice(key))

    def sliced(self, key: str, renderer) -> None:
        """A stack's slice arrived: it replaces the one on screen (the reader's window stays)."""
        if key not in self.renderers:
            return
        self.renderers[key] = renderer
        if key not in self.state.chosen:  # each slice has its own window in the file
            self.state.windows[key] = renderer.image.default_preset
        self.refresh_view_for(key)
        view, _ = self.view_of(key)
        if view is not None and renderer.image.level > 0 and view.wants_detail:
            self.sharp_slice_wanted.emit(key, self.shown_slice(key))  # zoomed in: this slice sharp

    # ----- cine ---------------------------------------------------------------------------------
    @property
    def cine_playing(self) -> bool:
        return self._cine.isActive()

    def set_cine(self, on: bool) -> None:
        """Play (back and forth) the selected stack, else every stack on screen."""
        if on and not self.stacks_on_screen():
            self.status.emit("Cine: no tomosynthesis stack on screen")
            on = False
        if on:
            self._cine.start()
            self.status.emit(f"Cine at {self.state.cine_fps} slices/s ([ slower, ] faster, Ctrl+Space stops)")
        else:
            self._cine.stop()
        self.cine_changed.emit(on)

    def _cine_step(self) -> None:
        stacks = self.stacks_on_screen()
        if not stacks:
            self.set_cine(False)
            return
        selected = self.state.selected
        for key in [selected] if selected in stacks else stacks:
            current, last = self.shown_slice(key), self.item(key).metadata.frames - 1
            direction = self._cine_direction.get(key, 1)
            if not 0 <= current + direction <= last:
                direction = -direction  # back and forth, as a reader rocks through a stack
            self._cine_direction[key] = direction
            self.step_slice(key, direction, follow=selected in stacks)

    def cine_speed(self, step: int) -> None:
        """One speed faster (``step`` 1) or slower (-1)."""
        speeds = CINE_SPEEDS
        at = min(range(len(speeds)), key=lambda i: abs(speeds[i] - self.state.cine_fps))
        self.state.cine_fps = speeds[min(max(at + step, 0), len(speeds) - 1)]
        self.status.emit(f"Cine: {self.state.cine_fps} slices/s")

    def slab_step(self, step: int) -> None:
        """One slab thickness thicker (1) or thinner (-1)."""
        sizes = SLAB_THICKNESSES_MM
        at = min(range(len(sizes)), key=lambda i: abs(sizes[i] - self.state.slab_mm))
        self.state.slab_mm = sizes[min(max(at + step, 0), len(sizes) - 1)]
        self.status.emit(slab_text(self.state.slab_mm, self.state.slab_mip))


def slab_text(slab_mm: float, mip: bool) -> str:
    return f"Slab {slab_mm:g} mm, {'MIP' if mip else 'average'}" if slab_mm > 0 else "One slice (no slab)"
