"""Where each image of a study goes on screen, and how it is flipped. Qt-free, so it is
tested on its own.

Conventions (the mammography reading standard):
- the right breast hangs on the left of the screen, the left breast on the right, mirrored so
  the chest walls meet in the middle: a right image shows its chest wall at its right edge,
  a left image at its left edge;
- CC views: lateral side up (moving down goes toward the midline); MLO views: head up.
- PatientOrientation (row direction, column direction) says where the image's columns and
  rows point; when it is missing, the chest-wall side read from the pixels decides the
  horizontal flip and the view is not flipped vertically, and the placement says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hds_core.findings.comparison import stored_upside_down, view_family

LAYOUTS = (4, 2, 1)
GUESSED = "placement guessed: laterality or view missing"


@dataclass(frozen=True)
class ViewInfo:
    """What hanging needs to know about one image."""

    key: str  # the viewer's identifier for the image (e.g. its path)
    laterality: str | None = None  # "R", "L"; anything else is unknown
    view: str | None = None  # "CC", "MLO", "ML", ...
    patient_orientation: tuple[str, str] | None = None
    chest_wall_right: bool | None = None  # read from the pixels; used when orientation is missing
    kind: str = "2D"  # "2D" or "DBT" (a tomosynthesis stack)
    synthesized: bool = False  # a 2-D image generated from the tomosynthesis (C-View, V-Preview, ...)

    @property
    def side(self) -> str | None:
        return self.laterality if self.laterality in ("R", "L") else None

    @property
    def family(self) -> str | None:
        return view_family(self.view)

    @property
    def label(self) -> str:
        return f"{self.side or '?'} {self.view or '?'}"


@dataclass(frozen=True)
class Placement:
    key: str
    row: int
    column: int
    flip_horizontal: bool
    flip_vertical: bool
    label: str
    notes: tuple[str, ...] = ()
    side: str | None = None  # "R", "L" or None (unknown): which breast
    family: str | None = None  # the view's family ("CC", "MLO"): a row pairs the same view of both breasts
    study: str = "current"  # or "prior" (a protocol's viewport)
    link: str | None = None  # a protocol's linked group: one scale at fit, windows moved together
    mirrored: bool = True  # chest wall toward the pair's middle (a protocol may hang a view as stored)


@dataclass(frozen=True)
class Hanging:
    layout: int
    rows: int
    columns: int
    placements: tuple[Placement, ...]
    page: int = 0
    pages: int = 1
    notes: tuple[str, ...] = field(default=())
    protocol: str | None = None  # the hanging protocol and its stage (page) that hung it, if one did
    stage: str | None = None

    def at(self, row: int, column: int) -> Placement | None:
        return next((p for p in self.placements if p.row == row and p.column == column), None)


def orientation_flips(info: ViewInfo, screen_side: str | None) -> tuple[bool, bool, tuple[str, ...]]:
    """(flip horizontally, flip vertically, notes) to show ``info`` on the ``screen_side``
    half ("left" for right breasts, "right" for left breasts; None: chest wall as found)."""
    notes: list[str] = []
    row_dir, col_dir = info.patient_orientation or ("", "")
    row_dir, col_dir = row_dir.upper(), col_dir.upper()

    chest_wall_right: bool | None
    if "P" in row_dir and "A" not in row_dir:
        chest_wall_right = True
    elif "A" in row_dir and "P" not in row_dir:
        chest_wall_right = False
    else:
        chest_wall_right = info.chest_wall_right
        notes.append(
            "no PatientOrientation: chest wall side read from the image"
            if chest_wall_right is not None
            else "no PatientOrientation: shown as stored"
        )
    flip_h = False
    if screen_side is not None and chest_wall_right is not None:
        wanted_right = screen_side == "left"  # a right breast on the left half faces the middle with its chest wall
        flip_h = chest_wall_right != wanted_right

    flip_v = stored_upside_down(info.side, info.family, info.patient_orientation)
    return flip_h, flip_v, tuple(notes)


def _place(
    info: ViewInfo, row: int, column: int, screen_side: str | None, extra: tuple[str, ...] = (), **more
) -> Placement:
    flip_h, flip_v, notes = orientation_flips(info, screen_side)
    return Placement(info.key, row, column, flip_h, flip_v, info.label, extra + notes, info.side, info.family, **more)


def reading_order(images: list[ViewInfo]) -> list[ViewInfo]:
    """R CC, L CC, R MLO, L MLO, then the rest in their given order."""
    rank = {("R", "CC"): 0, ("L", "CC"): 1, ("R", "MLO"): 2, ("L", "MLO"): 3}
    return sorted(images, key=lambda i: rank.get((i.side, i.family), 4))


def _preference(info: ViewInfo) -> int:
    """Which of a view's images takes its slot first: an acquired 2-D image, then a synthesized
    one (generated from the tomosynthesis: that view's 2-D image when there is no other), then
    the stack (reached by a protocol's DBT stage, or in 1-up)."""
    return 2 if info.kind == "DBT" else 1 if info.synthesized else 0


def _slots(
    images: list[ViewInfo], kind: str = "any"
) -> tuple[dict[tuple[str, str], ViewInfo], list[ViewInfo], list[ViewInfo]]:
    """Screening slots (side, family) -> image; images left over; images hung without tags.
    ``kind``: only "2D" images or only "DBT" stacks take slots ("any": both, 2-D first)."""
    slots: dict[tuple[str, str], ViewInfo] = {}
    unknown: list[ViewInfo] = []
    wanted = [info for info in images if kind == "any" or info.kind == kind]
    extra = [info for info in images if info not in wanted]
    for info in sorted(wanted, key=_preference):
        key = (info.side, info.family)
        if info.side and info.family:
            if key in slots:
                extra.append(info)  # a repeat: first one hangs, the others are reachable in 1-up
            else:
                slots[key] = info
        else:
            unknown.append(info)
    guessed = []
    for info in unknown:  # hang anyway, in a free slot that agrees with whatever tags it has
        free = [
            (s, f)
            for f in ("CC", "MLO")
            for s in ("R", "L")
            if (s, f) not in slots and (info.side in (None, s)) and (info.family in (None, f))
        ]
        if free:
            slots[free[0]] = info
            guessed.append(info)
        else:
            extra.append(info)
    return slots, extra, guessed


def hang(images: list[ViewInfo], layout: int = 4, page: int = 0) -> Hanging:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout}")
    if not images:
        return Hanging(layout, 1, 1, (), notes=("no images",))
    slots, extra, guessed = _slots(images)
    notes = []
    if guessed:
        notes.append("hung without laterality or view tags: " + ", ".join(g.key for g in guessed))
    if extra:
        notes.append(f"{len(extra)} more image(s) than the screening views: see 1-up")

    def placed(info: ViewInfo, row: int, column: int, side: str) -> Placement:
        hint = (GUESSED,) if info in guessed else ()
        return _place(info, row, column, "left" if side == "R" else "right", hint)

    if layout == 4:
        families = [f for f in ("CC", "MLO") if any(k[1] == f for k in slots)]  # an MLO-only study hangs as one row
        placements = tuple(
            placed(slots[(s, f)], r, c, s)
            for r, f in enumerate(families)
            for c, s in enumerate(("R", "L"))
            if (s, f) in slots
        )
        return Hanging(4, max(len(families), 1), 2, placements, notes=tuple(notes))
    if layout == 2:
        families = [f for f in ("CC", "MLO") if any(k[1] == f for k in slots)] or ["CC"]
        page %= len(families)
        family = families[page]
        placements = tuple(
            placed(slots[(s, family)], 0, c, s) for c, s in enumerate(("R", "L")) if (s, family) in slots
        )
        return Hanging(2, 1, 2, placements, page, len(families), tuple(notes))
    ordered = reading_order([i for i in images if i not in extra]) + extra
    page %= len(ordered)
    info = ordered[page]
    side = {"R": "left", "L": "right"}.get(info.side or "")
    return Hanging(1, 1, 1, (_place(info, 0, 0, side),), page, len(ordered), tuple(notes))


def hang_stage(protocol, stage_index: int, current: list[ViewInfo], prior: list[ViewInfo] | None = None) -> Hanging:
    """The viewports of a protocol's stage (protocols.py) filled from the current study and
    its prior: each takes the image of its study, breast and view (an untagged image in a slot
    its tags allow, as hang() does); a viewport with no such image stays empty."""
    stage_index %= len(protocol.stages)
    stage = protocol.stages[stage_index]
    images = {"current": current, **({"prior": prior} if prior else {})}
    slotted: dict[tuple[str, str], tuple] = {}

    def slots_of(study: str, kind: str):
        if (study, kind) not in slotted:
            slotted[study, kind] = _slots(images[study], kind)
        return slotted[study, kind]

    notes: list[str] = []
    if slots_of("current", "any")[2]:
        notes.append("hung without laterality or view tags: " + ", ".join(g.key for g in slots_of("current", "any")[2]))
    placements = []
    for index, viewport in enumerate(stage.viewports):
        row, column = divmod(index, stage.columns)
        if viewport.empty or viewport.study not in images:
            continue
        slots, _extra, guessed = slots_of(viewport.study, viewport.image)
        info = slots.get((viewport.laterality, viewport.view))
        if info is None:
            continue
        mirrored = viewport.orientation == "mirrored"
        screen_side = ("left" if viewport.laterality == "R" else "right") if mirrored else None
        hint = (GUESSED,) if info in guessed else ()
        placements.append(
            _place(info, row, column, screen_side, hint, study=viewport.study, link=viewport.link, mirrored=mirrored)
        )
    if not placements:
        notes.append(f"{protocol.name}: no image of this study fits stage {stage_index + 1} ({stage.name})")
    # A row no image fills goes, as hang() hangs an MLO-only study in one row.
    used = sorted({p.row for p in placements}) or [0]
    placements = [replace(p, row=used.index(p.row)) for p in placements]
    return Hanging(
        len(used) * stage.columns,
        len(used),
        stage.columns,
        tuple(placements),
        stage_index,
        len(protocol.stages),
        tuple(notes),
        protocol.name,
        stage.name,
    )
