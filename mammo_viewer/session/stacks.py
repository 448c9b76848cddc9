"""Tomosynthesis stacks on screen: every slice of a stack at the level that fills its view is
decoded in the background once the stack is open and kept (a few at a time, the middle
first), so stepping, cine and slabs draw from memory; a slice not kept yet, or one the view
needs sharper (zoomed, 1:1, the magnifier, measuring), comes from the decoder, the last asked
for winning."""

from __future__ import annotations

from hds_core.io.dicom import slab_of
from hds_core.io.levels import deepest_level, level_shape, screen_level
from hds_core.io.tomo import slab_around, slab_count

from ..pictures.display import ScreenRenderer
from ..work.decoding import DecodedImage

STACK_CACHE_BYTES = 160 << 20  # a stack's kept slices at most: 60 slices of 2000 x 2500 at 1/4 are 37 MB


def cache_level(shape: tuple[int, int], frames: int, screen_shape: tuple[int, int], itemsize: int = 2) -> int:
    """The level a stack's slices are kept at: the one that fills its view, coarser where the
    whole stack would take more than STACK_CACHE_BYTES."""
    level = screen_level(shape, screen_shape)
    while (
        level < deepest_level(shape)
        and frames * itemsize * level_shape(shape, level)[0] * level_shape(shape, level)[1] > STACK_CACHE_BYTES
    ):
        level += 1
    return level


class Stacks:
    """Mixed into MainWindow: its loader, controller, grid, state and problems."""

    _slice_renderers: dict = {}  # (stack key, slice) -> the kept slice's renderer (its last screen cached)

    def _stack_opened(self, item) -> None:
        """A stack's first slice is on screen: keep all its slices, and show the reader's slab."""
        meta = item.metadata
        level = cache_level((meta.rows, meta.columns), meta.frames, self.grid.screen_shape())
        item.slices = {}
        self._slice_renderers = {k: r for k, r in self._slice_renderers.items() if k[0] != item.key}
        self.loader.load_stack(item.key, item.path, level, meta.frames)
        self.grid.stack_opened(item.key)

    def _on_stack_loaded(self, key: str, level: int, slices: dict) -> None:
        item = self.controller.image(key)
        if item is not None:
            item.slices.update(slices)

    def _on_stack_failed(self, key: str, message: str) -> None:
        self._problem(f"{message} (its slices are decoded one at a time instead)")

    def _want_slice(self, key: str, index: int, sharp: bool = False) -> None:
        """Show slice ``index`` of stack ``key`` (as the reader's slab): from the kept slices
        at once, else (or ``sharp``: at full resolution) from the decoder."""
        item = self.controller.image(key)
        if item is None:
            return
        meta = item.metadata
        count, mip = slab_count(self.state.slab_mm, meta.slice_depths_mm), self.state.slab_mip
        span = slab_around(index, count, meta.frames)
        if not sharp and all(i in item.slices for i in span):
            middle = item.slices[index]
            if len(span) == 1:
                # One renderer a kept slice: stepping back over it finds its screen rendered already.
                renderer = self._slice_renderers.setdefault((key, index), ScreenRenderer(middle))
            else:
                renderer = ScreenRenderer(slab_of(middle, (item.slices[i].pixels for i in span), len(span), mip))
            self._on_sliced(key, index, DecodedImage(renderer.image, None, renderer, None))
            return
        self.loader.want_slice(key, item.path, index, (count, mip), 0 if sharp else self._slice_level(item))

    def _slice_level(self, item) -> int:
        meta = item.metadata
        return cache_level((meta.rows, meta.columns), meta.frames, self.grid.screen_shape())

    def _on_sliced(self, key: str, index: int, decoded: DecodedImage) -> None:
        if index != self.grid.shown_slice(key):
            return  # the reader has moved on (a sharp slice decoded while she stepped from memory)
        if self.controller.sliced(key, decoded.image) is not None:
            self.grid.sliced(key, decoded.renderer)

    def _on_slice_failed(self, key: str, index: int, message: str) -> None:
        self._problem(message)
        self._status(f"Slice {index + 1} not shown: {message}")
