"""Hanging protocols as data: read and checked here, one TOML file at a time, every fault
named by file, line and field. Qt-free.

A protocol names what it applies to and its stages; a stage is a grid of viewports filled row
by row; a viewport takes one image of the current study or of the prior (by laterality and
view) and belongs to a linked group, whose views share one physical scale at fit and move
their windows together. The shipped defaults are resources/protocols/default.toml; a reader's
own files, in the settings folder, override a default of the same name and come before the
others. DICOM's Hanging Protocol IOD (PS3.17 Annex V) is the model: protocols chosen by
modality and the number of priors, image sets of the current study and an abstract prior.

    [[protocol]]
    name = "current vs prior CC"
    modality = ["MG"]        # the study's modality (files that carry none count as MG)
    dimension = "2D"         # "2D", "DBT" or "any"
    priors = "required"      # "required", "none" or "any"
    views = ["CC"]           # view families the current study must hold

    [[protocol.stage]]
    name = "CC, current above prior"
    rows = 2
    columns = 2

    [[protocol.stage.viewport]]
    study = "current"        # or "prior"
    laterality = "R"
    view = "CC"              # CC or MLO (their family: XCCL hangs as CC, ML as MLO)
    orientation = "mirrored" # chest walls to the middle of the pair; "as stored": untouched
    link = "CC"              # views of one group share scale, zoom and window
    image = "any"            # "2D" (a 2-D mammogram, a synthesized one where no other), "DBT"
                             # (the tomosynthesis stack), "any" (a 2-D image first)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

STUDIES = ("current", "prior")
SIDES = ("R", "L")
FAMILIES = ("CC", "MLO")
ORIENTATIONS = ("mirrored", "as stored")
DIMENSIONS = ("2D", "DBT", "any")
PRIORS = ("required", "none", "any")
MAX_SIDE = 4  # rows or columns of a stage: eight views of 2 x 4 is the most a mammography screen shows

_PROTOCOL_KEYS = {"name", "modality", "dimension", "priors", "views", "stage"}
_STAGE_KEYS = {"name", "rows", "columns", "viewport"}
_VIEWPORT_KEYS = {"study", "laterality", "view", "orientation", "link", "empty", "image"}
IMAGE_KINDS = ("2D", "DBT", "any")


class ProtocolError(ValueError):
    """A protocol file that cannot be used: its path, the line, the field and the fix."""

    def __init__(self, path: Path, line: int | None, field: str | None, problem: str, fix: str = "") -> None:
        self.path, self.line, self.field, self.problem, self.fix = Path(path), line, field, problem, fix
        where = f"{path}:{line}" if line else str(path)
        text = f"{where}: {field + ': ' if field else ''}{problem}"
        super().__init__(text + (f" ({fix})" if fix else ""))


@dataclass(frozen=True)
class Viewport:
    study: str = "current"
    laterality: str | None = None
    view: str | None = None
    orientation: str = "mirrored"
    link: str | None = None
    empty: bool = False  # a cell left black on purpose
    image: str = "any"  # which of the view's images: "2D", "DBT" or "any" (hanging.py)


@dataclass(frozen=True)
class Stage:
    name: str
    rows: int
    columns: int
    viewports: tuple[Viewport, ...]


@dataclass(frozen=True)
class Protocol:
    name: str
    stages: tuple[Stage, ...]
    modality: tuple[str, ...] = ("MG",)
    dimension: str = "2D"
    priors: str = "any"
    views: tuple[str, ...] = ()
    source: str = ""  # the file it came from

    @property
    def needs_prior(self) -> bool:
        return self.priors == "required" or any(v.study == "prior" for s in self.stages for v in s.viewports)

    def applies(self, *, modalities: set[str], families: set[str], has_prior: bool, dbt: bool = False) -> bool:
        """Whether this protocol suits the current study (``modalities`` of its images,
        ``families`` of its views) with or without a prior."""
        if modalities and not modalities & set(self.modality):
            return False
        if self.dimension != "any" and (self.dimension == "DBT") != dbt:
            return False
        if (self.priors == "required" and not has_prior) or (self.priors == "none" and has_prior):
            return False
        return set(self.views) <= families


class _Lines:
    """Where each key of a protocol file is written: TOML's parser gives values, not lines, so
    the file's tables and keys are counted as written (``[[protocol]]``, ``[[protocol.stage]]``,
    ``[[protocol.stage.viewport]]``, ``key = value``). A key written otherwise (an inline
    table) is placed at its table's line."""

    _HEADER = re.compile(r"^\s*\[\[\s*(protocol(?:\s*\.\s*stage(?:\s*\.\s*viewport)?)?)\s*\]\]")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"' ]+?)\s*=")

    def __init__(self, text: str) -> None:
        self.where: dict[tuple, int] = {}
        p = s = v = -1
        for number, line in enumerate(text.splitlines(), 1):
            header = self._HEADER.match(line)
            if header:
                depth = header.group(1).count(".")
                if depth == 0:
                    p, s, v = p + 1, -1, -1
                elif depth == 1:
                    s, v = s + 1, -1
                else:
                    v += 1
                self.where.setdefault((p, s, v, None), number)
                continue
            key = self._KEY.match(line)
            if key and p >= 0:
                self.where.setdefault((p, s, v, key.group(1).strip("\"' ")), number)

    def line(self, p: int, s: int = -1, v: int = -1, key: str | None = None) -> int | None:
        for probe in ((p, s, v, key), (p, s, v, None), (p, s, -1, None), (p, -1, -1, None)):
            if probe in self.where:
                return self.where[probe]
        return None


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = path, _Lines(text)

    def fail(self, at: tuple, field: str, problem: str, fix: str = "") -> None:
        p, s, v = (*at, -1, -1, -1)[:3]
        key = field.rsplit(".", 1)[-1] if field else None
        raise ProtocolError(self.path, self.lines.line(p, s, v, key), self._name(at, field), problem, fix)

    @staticmethod
    def _name(at: tuple, field: str) -> str:
        parts = [f"protocol {at[0] + 1}"]
        if len(at) > 1:
            parts.append(f"stage {at[1] + 1}")
        if len(at) > 2:
            parts.append(f"viewport {at[2] + 1}")
        return ", ".join(parts) + (f", field '{field}'" if field else "")

    def table(self, value, at: tuple, allowed: set[str], what: str) -> dict:
        if not isinstance(value, dict):
            self.fail(at, "", f"a {what} must be a table, not {type(value).__name__}")
        for key in value:
            if key not in allowed:
                close = ", ".join(sorted(allowed))
                self.fail(at, key, f"unknown field for a {what}", f"the fields are: {close}")
        return value

    def text(self, table: dict, key: str, at: tuple, choices=None, default=None, required=False) -> str | None:
        if key not in table:
            if required:
                self.fail(at, key, "missing", "every " + ("stage" if len(at) == 2 else "protocol") + " needs one")
            return default
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(at, key, f"must be a text, not {value!r}")
        if choices is not None and value not in choices:
            self.fail(at, key, f"{value!r} is not one of {', '.join(map(repr, choices))}")
        return value

    def texts(self, table: dict, key: str, at: tuple, choices=None, default=()) -> tuple[str, ...]:
        if key not in table:
            return tuple(default)
        value = table[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(at, key, f"must be a list of texts, not {value!r}")
        for item in value:
            if choices is not None and item not in choices:
                self.fail(at, key, f"{item!r} is not one of {', '.join(map(repr, choices))}")
        return tuple(value)

    def number(self, table: dict, key: str, at: tuple) -> int:
        value = table.get(key)
        if value is None:
            self.fail(at, key, "missing", f"give the stage's {key}, 1 to {MAX_SIDE}")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
            self.fail(at, key, f"must be a whole number from 1 to {MAX_SIDE}, not {value!r}")
        return value

    def viewport(self, value, at: tuple) -> Viewport:
        table = self.table(value, at, _VIEWPORT_KEYS, "viewport")
        empty = table.get("empty", False)
        if not isinstance(empty, bool):
            self.fail(at, "empty", f"must be true or false, not {empty!r}")
        if empty:
            return Viewport(empty=True)
        for key in ("laterality", "view"):
            if key not in table:
                self.fail(at, key, "missing", "a viewport names the breast (R or L) and the view (CC or MLO)")
        return Viewport(
            study=self.text(table, "study", at, STUDIES, "current"),
            laterality=self.text(table, "laterality", at, SIDES),
            view=self.text(table, "view", at, FAMILIES),
            orientation=self.text(table, "orientation", at, ORIENTATIONS, "mirrored"),
            link=self.text(table, "link", at),
            image=self.text(table, "image", at, IMAGE_KINDS, "any"),
        )

    def stage(self, value, at: tuple) -> Stage:
        table = self.table(value, at, _STAGE_KEYS, "stage")
        name = self.text(table, "name", at, required=True)
        rows, columns = self.number(table, "rows", at), self.number(table, "columns", at)
        cells = table.get("viewport", [])
        if not isinstance(cells, list) or not cells:
            self.fail(at, "viewport", "a stage needs at least one [[protocol.stage.viewport]]")
        if len(cells) > rows * columns:
            self.fail(at, "viewport", f"{len(cells)} viewports do not fit {rows} x {columns}", "add rows or columns")
        return Stage(name, rows, columns, tuple(self.viewport(cell, (*at, n)) for n, cell in enumerate(cells)))

    def protocol(self, value, p: int) -> Protocol:
        at = (p,)
        table = self.table(value, at, _PROTOCOL_KEYS, "protocol")
        name = self.text(table, "name", at, required=True)
        stages = table.get("stage", [])
        if not isinstance(stages, list) or not stages:
            self.fail(at, "stage", "a protocol needs at least one [[protocol.stage]]")
        return Protocol(
            name=name,
            stages=tuple(self.stage(stage, (p, n)) for n, stage in enumerate(stages)),
            modality=self.texts(table, "modality", at, default=("MG",)),
            dimension=self.text(table, "dimension", at, DIMENSIONS, "2D"),
            priors=self.text(table, "priors", at, PRIORS, "any"),
            views=self.texts(table, "views", at, FAMILIES),
            source=str(self.path),
        )


def read_protocols(path: str | Path) -> list[Protocol]:
    """The protocols of one TOML file; raises ProtocolError naming the file, line and field."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ProtocolError(path, None, None, f"cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ProtocolError(path, None, None, "not UTF-8 text", "save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ProtocolError(
            path, int(line.group(1)) if line else None, None, f"not valid TOML ({exc})", "see toml.io for the syntax"
        ) from None
    reader = _Reader(path, text)
    unknown = set(data) - {"protocol"}
    if unknown:
        raise ProtocolError(path, None, sorted(unknown)[0], "unknown top-level table", "protocols are [[protocol]]")
    entries = data.get("protocol", [])
    if not isinstance(entries, list) or not entries:
        raise ProtocolError(path, None, None, "no [[protocol]] in the file")
    protocols = [reader.protocol(entry, p) for p, entry in enumerate(entries)]
    seen: set[str] = set()
    for p, protocol in enumerate(protocols):
        if protocol.name in seen:
            reader.fail((p,), "name", f"{protocol.name!r} is named twice in this file", "give each its own name")
        seen.add(protocol.name)
    return protocols


def protocol_files(folder: Path | None) -> list[Path]:
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(Path(folder).glob("*.toml"))


def combine(defaults: list[Protocol], own: list[Protocol]) -> list[Protocol]:
    """The reader's own protocols first (tried first when a study opens), each replacing the
    default of its name."""
    names = {protocol.name for protocol in own}
    return own + [protocol for protocol in defaults if protocol.name not in names]


def load_protocols(default_file: Path | None, folder: Path | None) -> tuple[list[Protocol], list[ProtocolError]]:
    """The shipped defaults and the reader's own (every *.toml of ``folder``). A broken file
    of the reader's is returned as an error and left out; the others still load."""
    defaults = read_protocols(default_file) if default_file is not None else []
    own, faults = [], []
    for path in protocol_files(folder):
        try:
            own.extend(read_protocols(path))
        except ProtocolError as exc:
            faults.append(exc)
    return combine(defaults, own), faults


def find(protocols: list[Protocol], name: str) -> Protocol:
    for protocol in protocols:
        if protocol.name.casefold() == name.strip().casefold():
            return protocol
    known = "; ".join(p.name for p in protocols)
    raise ProtocolError(Path(name), None, None, "no hanging protocol of that name", f"the protocols are: {known}")


def first_applicable(protocols: list[Protocol], **study) -> Protocol | None:
    """The protocol a study opens with: the first that applies (see Protocol.applies)."""
    return next((p for p in protocols if p.applies(**study)), None)
