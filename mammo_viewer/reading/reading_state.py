"""What the reader has chosen, in one plain object (no Qt): the threshold, the overlays, the
selected view, the layout, the window on each image and inversion. Panels, the grid and the
window observe it and write to it; nothing reads a value back from a widget, and the exports
take what they need from it. In the spirit of napari's evented models: setting a field to a
new value calls the field's observers with that value; setting the same value calls nobody,
so a widget that mirrors the state may write back what it was told without a loop."""

from __future__ import annotations

from collections.abc import Callable

MIN_THRESHOLD, MAX_THRESHOLD = 0.001, 0.999  # a contour needs some probability, and some doubt
LAYOUTS = (4, 2, 1)  # quad, dual, single


def _threshold(value) -> float:
    return min(max(float(value), MIN_THRESHOLD), MAX_THRESHOLD)


def _fraction(value) -> float:
    return min(max(float(value), 0.0), 1.0)


def _slab_mm(value) -> float:
    return min(max(float(value), 0.0), 50.0)  # 0: one slice; a breast is rarely thicker than 50 mm


def _fps(value) -> int:
    return min(max(int(value), 1), 60)


def _layout(value) -> int:
    if value not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {value!r}")
    return int(value)


class Evented:
    """A field whose assignment (``check``ed first) notifies the object's observers of that field."""

    def __init__(self, check=lambda value: value):
        self.check = check

    def __set_name__(self, owner, name: str) -> None:
        self.name, self.slot = name, "_" + name

    def __get__(self, obj, objtype=None):
        return self if obj is None else getattr(obj, self.slot)

    def __set__(self, obj, value) -> None:
        value = self.check(value)
        if getattr(obj, self.slot, _UNSET) == value:
            return
        setattr(obj, self.slot, value)
        for observer in list(obj._observers.get(self.name, ())):
            observer(value)


_UNSET = object()


class ReadingState:
    threshold = Evented(_threshold)
    default_threshold = Evented(_threshold)  # the weights' (Reset goes back to it)
    model_loaded = Evented(bool)  # "(model default)" means nothing before the weights have loaded
    contours = Evented(bool)
    heat_map = Evented(bool)
    heat_opacity = Evented(_fraction)  # 0..1
    selected = Evented()  # key of the view the reader clicked, or None (presets apply to all)
    layout = Evented(_layout)  # 4, 2 or 1 views
    invert = Evented(bool)
    # Tomosynthesis: the slab shown around each stack's slice (mm; 0: the slice alone), by
    # maximum (MIP) or average, the same for every view; the cine speed in slices a second; and
    # whether a breast's two views follow each other by relative depth.
    slab_mm = Evented(_slab_mm)
    slab_mip = Evented(bool)
    cine_fps = Evented(_fps)
    depth_link = Evented(bool)

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        contours: bool = True,
        heat_map: bool = False,
        heat_opacity: float = 0.5,
        layout: int = 4,
    ):
        self._observers: dict[str, list[Callable]] = {}
        self.default_threshold = threshold
        self.threshold = threshold
        self.model_loaded = False
        self.contours, self.heat_map, self.heat_opacity = contours, heat_map, heat_opacity
        self.selected = None
        self.layout = layout
        self.slab_mm, self.slab_mip, self.cine_fps, self.depth_link = 0.0, False, 10, False
        self.invert = False
        # Per image: the window (VoiPreset) on screen, and which of them the reader chose.
        self.windows: dict[str, object] = {}
        self.chosen: set[str] = set()
        self._window_observers: list[Callable[[str], None]] = []

    # ----- observing ------------------------------------------------------------------------
    def observe(self, name: str, callback: Callable[[object], None]) -> None:
        if not isinstance(getattr(type(self), name, None), Evented):
            raise AttributeError(f"ReadingState has no field {name!r}")
        self._observers.setdefault(name, []).append(callback)

    def observe_windows(self, callback: Callable[[str], None]) -> None:
        """``callback(key)`` when the window of image ``key`` changes."""
        self._window_observers.append(callback)

    # ----- changes that are more than one assignment -----------------------------------------
    def reset_threshold(self) -> None:
        self.threshold = self.default_threshold

    def set_model(self, default_threshold: float) -> None:
        """The weights have loaded: their default threshold is where the slider starts."""
        self.default_threshold = default_threshold
        self.model_loaded = True
        self.threshold = default_threshold

    def at_default(self) -> bool:
        return self.model_loaded and abs(self.threshold - self.default_threshold) < 5e-4

    def set_window(self, key: str, preset, *, chosen: bool = True) -> None:
        """The window of image ``key``: ``chosen`` by the reader (a preset, a drag), or the
        file's own when the image arrives."""
        self.windows[key] = preset
        if chosen:
            self.chosen.add(key)
        else:
            self.chosen.discard(key)
        for observer in list(self._window_observers):
            observer(key)

    def forget_windows(self) -> None:
        self.windows.clear()
        self.chosen.clear()
