"""The tables collections ship their labels in: CSV, and Excel workbooks (CDD-CESM, CMMD),
read without a spreadsheet library: an .xlsx is a zip of XML, and its first sheet is all the
adapters need. Rows come back as dicts of stripped strings keyed by the header row."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from .errors import DatasetLayoutError

_NS = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_COLUMN = re.compile(r"[A-Z]+")
# A workbook's XML is read whole: one with more than this is not a label table.
MAX_XML_BYTES = 64 * 1024 * 1024


def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of ``path`` (.csv or .xlsx), keyed by the first row's names."""
    try:
        if path.suffix.lower() == ".xlsx":
            rows = _xlsx_rows(path)
        else:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error, zipfile.BadZipFile, ElementTree.ParseError, KeyError) as exc:
        raise DatasetLayoutError(f"{path}: cannot read the table ({exc})") from None
    if not rows:
        raise DatasetLayoutError(f"{path}: the table is empty")
    names = [name.strip() for name in rows[0]]
    return [
        {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(names) if name}
        for row in rows[1:]
        if any(cell.strip() for cell in row)
    ]


def _column_index(reference: str) -> int:
    index = 0
    for letter in _COLUMN.match(reference).group(0):
        index = index * 26 + ord(letter) - 64
    return index - 1


def _xml(archive: zipfile.ZipFile, name: str):
    if archive.getinfo(name).file_size > MAX_XML_BYTES:
        raise DatasetLayoutError(f"{archive.filename}: {name} is over {MAX_XML_BYTES >> 20} MiB")
    return ElementTree.fromstring(archive.read(name))


def _xlsx_rows(path: Path) -> list[list[str]]:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        shared = []
        if "xl/sharedStrings.xml" in names:
            for item in _xml(archive, "xl/sharedStrings.xml").findall("s:si", _NS):
                shared.append("".join(t.text or "" for t in item.iter(f"{{{_NS['s']}}}t")))
        sheets = sorted(n for n in names if n.startswith("xl/worksheets/sheet") and n.endswith(".xml"))
        if not sheets:
            raise DatasetLayoutError(f"{path}: the workbook has no sheet")
        rows = []
        for row in _xml(archive, sheets[0]).iter(f"{{{_NS['s']}}}row"):
            values: dict[int, str] = {}
            for cell in row.findall("s:c", _NS):
                kind, value = cell.get("t"), cell.find("s:v", _NS)
                if kind == "s" and value is not None:
                    text = shared[int(value.text)]
                elif kind == "inlineStr":
                    text = "".join(t.text or "" for t in cell.iter(f"{{{_NS['s']}}}t"))
                else:
                    text = value.text if value is not None and value.text else ""
                    if re.fullmatch(r"-?\d+\.0", text):
                        text = text[:-2]  # Excel stores whole numbers as floats
                values[_column_index(cell.get("r", "A"))] = text
            rows.append([values.get(i, "") for i in range(max(values, default=-1) + 1)])
        return rows


def find_one(root: Path, patterns: tuple[str, ...], what: str) -> Path:
    """The first file under ``root`` matching one of ``patterns`` (glob, searched recursively)."""
    for pattern in patterns:
        found = sorted(root.rglob(pattern))
        if found:
            return found[0]
    raise DatasetLayoutError(f"{root}: no {what} ({' or '.join(patterns)})")
