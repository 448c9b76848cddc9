"""A seeded mutator over synthetic MG files: the kinds of damage a fuzz campaign found
defects with (byte flips, truncations, length fields, VRs, inconsistent image attributes,
spacing and window values, swapped transfer syntaxes, hostile identifiers and file names).

``mutant(seed, folder)`` writes one file and returns its path and what was done to it, the
same for the same seed on any machine. The suite runs a small seed range (test_fuzz.py);
``python tests/fuzz.py --seeds 0-2000`` runs a larger one by hand and prints a tally.
"""

from __future__ import annotations

import random
import struct
import warnings
from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid
from synthetic import mg_dataset, phantom

KINDS = (
    "flip",
    "truncate",
    "length",
    "vr",
    "attributes",
    "spacing",
    "window",
    "syntax",
    "identifiers",
    "name",
    "uid_vr",
    "clash",
    "control",
)
# Every text element a file names its patient, study or image with: the "control" kind puts
# control bytes into all of them at once (they reach logs, terminals and widgets).
TEXT_KEYWORDS = (
    "PatientName",
    "PatientID",
    "StudyDescription",
    "SeriesDescription",
    "AccessionNumber",
    "StudyID",
    "Manufacturer",
    "InstitutionName",
    "ReferringPhysicianName",
    "ImageLaterality",
    "ViewPosition",
)
CONTROL_TEXT = ["A\r\n2026-01-01 INFO forged line", "\x1b]0;title\x07\x1b[2J", "nul\x00inside", "\x07\x08\x7f"]

HOSTILE_NUMBERS = [
    "1e308",
    "-1e308",
    "inf",
    "-inf",
    "nan",
    "0",
    "-0.1",
    "1e-300",
    "1e-5",
    "50",
    "abc",
    "",
    "0.1\\0",
    "3.4\\inf",
    "1e400",
]
HOSTILE_TEXT = [
    "SMITH^JOHN",
    "\x1b[31mRED\x1b[0m",
    "line\nbreak",
    "\x00\x07bell",
    "x" * 5000,
    "Ünïcødé^名前",
    "../../etc/passwd",
    "-rf",
    "%s%n%x",
    "\r\rcarriage",
]
SYNTAXES = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.80",
    "1.2.3",
    "",
    "garbage",
]
IMAGE_ATTRIBUTES = {
    "Rows": [0, 1, 2, 65535, 97, 200],
    "Columns": [0, 1, 2, 65535, 95, 200],
    "BitsAllocated": [0, 1, 8, 12, 32, 64, 65535],
    "BitsStored": [0, 1, 8, 16, 17, 32, 65535],
    "HighBit": [0, 3, 15, 16, 65535],
    "SamplesPerPixel": [0, 2, 3, 65535],
    "PixelRepresentation": [1, 2, 65535],
    "PhotometricInterpretation": ["RGB", "PALETTE COLOR", "YBR_FULL", "MONOCHROME3", ""],
    "NumberOfFrames": ["0", "2", "-1", "99999999", "x"],
    "PlanarConfiguration": [1, 7],
}


def _base(rng: random.Random) -> pydicom.Dataset:
    shape = (rng.choice([64, 96, 128]), rng.choice([48, 64, 96]))
    pixels, _ = phantom(shape, seed=rng.randrange(1000), chest_wall=rng.choice(["left", "right"]))
    side = rng.choice(["L", "R"])
    ds = mg_dataset(
        pixels,
        ImageLaterality=side,
        ViewPosition=rng.choice(["CC", "MLO"]),
        ImagerPixelSpacing=[0.4, 0.4],
        WindowCenter=2048,
        WindowWidth=4096,
        # UIDs from the seed: a random UID's length moves every byte offset, and with them what
        # a mutation hits, so the corpus (and the memory it takes) changed from run to run.
        StudyInstanceUID=generate_uid(entropy_srcs=[f"fuzz study {rng.random()}"]),
        SeriesInstanceUID=generate_uid(entropy_srcs=[f"fuzz series {rng.random()}"]),
    )
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
        entropy_srcs=[f"fuzz instance {rng.random()}"]
    )
    return ds


def _encode(ds: pydicom.Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def raw_element(ds: pydicom.Dataset, keyword: str, value: str) -> None:
    """Set a text element to bytes pydicom would refuse to write as a value."""
    vr = pydicom.datadict.dictionary_VR(keyword)
    data = value.encode("utf-8", "replace")
    if len(data) % 2:
        data += b" "
    tag = pydicom.tag.Tag(pydicom.datadict.tag_for_keyword(keyword))
    # A raw element is written as it stands: pydicom neither converts nor validates it.
    ds._dict[tag] = pydicom.dataelem.RawDataElement(tag, vr, len(data), data, 0, False, True)


def mutant(seed: int, folder: Path) -> tuple[Path, str]:
    """One damaged MG file in ``folder``; returns (path, what was done)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the values we mean to write
        return _mutant(seed, folder)


def _mutant(seed: int, folder: Path) -> tuple[Path, str]:
    rng = random.Random(seed)
    kind = KINDS[seed % len(KINDS)]
    ds = _base(rng)
    name = f"fuzz_{seed:05d}.dcm"
    what = kind
    data: bytes | None = None
    if kind in ("flip", "truncate", "length", "vr"):
        data = bytearray(_encode(ds))
        if kind == "flip":
            for _ in range(rng.randint(1, 24)):
                at = rng.randrange(132, len(data))
                data[at] ^= 1 << rng.randrange(8)
            what = "flip bytes"
        elif kind == "truncate":
            cut = rng.randrange(0, len(data))
            data = data[:cut]
            what = f"truncate at {cut}"
        elif kind == "length":
            # An explicit-VR element's length field: 2 bytes for short VRs, 4 for OB/OW/UN/UT...
            tags = [
                b"\x28\x00\x10\x00",
                b"\x28\x00\x11\x00",
                b"\x10\x00\x10\x00",
                b"\x20\x00\x0d\x00",
                b"\xe0\x7f\x10\x00",
                b"\x18\x00\x64\x11",
                b"\x28\x00\x50\x10",
            ]
            tag = rng.choice(tags)
            at = bytes(data).find(tag, 132)
            if at >= 0:
                vr = bytes(data[at + 4 : at + 6])
                if vr in (b"OB", b"OW", b"UN", b"UT", b"SQ", b"OF"):
                    data[at + 8 : at + 12] = struct.pack("<I", rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 3, len(data)]))
                else:
                    data[at + 6 : at + 8] = struct.pack("<H", rng.choice([0, 1, 3, 0xFFFF, 0x7FFF, 255]))
            what = f"length field of {tag.hex()}"
        else:
            positions = [
                i
                for i in range(132, len(data) - 2)
                if bytes(data[i : i + 2])
                in (b"US", b"DS", b"CS", b"UI", b"PN", b"LO", b"OW", b"OB", b"IS", b"DA", b"SH")
            ]
            if positions:
                at = rng.choice(positions)
                data[at : at + 2] = rng.choice([b"ZZ", b"SQ", b"OB", b"UN", b"US", b"FD", b"\x00\x00", b"UT"])
            what = "VR code"
        data = bytes(data)
    elif kind == "attributes":
        keyword = rng.choice(sorted(IMAGE_ATTRIBUTES))
        value = rng.choice(IMAGE_ATTRIBUTES[keyword])
        if isinstance(value, str) and keyword == "NumberOfFrames":
            raw_element(ds, keyword, value)
        else:
            setattr(ds, keyword, value)
        what = f"{keyword} = {value!r}"
    elif kind == "spacing":
        keyword = rng.choice(["ImagerPixelSpacing", "PixelSpacing", "EstimatedRadiographicMagnificationFactor"])
        value = rng.choice(HOSTILE_NUMBERS)
        if keyword != "ImagerPixelSpacing":
            del ds.ImagerPixelSpacing
        raw_element(ds, keyword, value if "\\" in value or keyword.startswith("Estimated") else f"{value}\\{value}")
        what = f"{keyword} = {value!r}"
    elif kind == "window":
        keyword = rng.choice(["WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept", "VOILUTFunction"])
        value = rng.choice(HOSTILE_NUMBERS + ["SIGMOID", "LINEAR_EXACT", "WHAT"])
        raw_element(ds, keyword, value)
        what = f"{keyword} = {value!r}"
    elif kind == "syntax":
        syntax = rng.choice(SYNTAXES)
        data = _encode(ds)
        old = str(ds.file_meta.TransferSyntaxUID).encode()
        new = syntax.encode()
        # Same length keeps the meta group's length field right; else the meta group lies.
        padded = new + (b"\0" if len(new) % 2 else b"")
        header_length = struct.pack("<H", len(old) + (len(old) % 2))
        at = data.find(b"\x02\x00\x10\x00UI" + header_length)
        if at >= 0:
            data = data[: at + 6] + struct.pack("<H", len(padded)) + padded + data[at + 8 + len(old) + len(old) % 2 :]
        what = f"transfer syntax {syntax!r} over explicit little endian data"
    elif kind == "identifiers":
        keyword = rng.choice(
            [
                "PatientName",
                "PatientID",
                "StudyInstanceUID",
                "SOPInstanceUID",
                "StudyDescription",
                "ImageLaterality",
                "ViewPosition",
                "SeriesInstanceUID",
                "AccessionNumber",
            ]
        )
        if rng.random() < 0.2 and keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            delattr(ds, keyword)
            what = f"{keyword} removed"
        else:
            value = rng.choice(HOSTILE_TEXT)
            raw_element(ds, keyword, value)
            what = f"{keyword} = {value[:20]!r}"
    elif kind == "uid_vr":
        # A UID element whose VR is changed to a number's (US, FD): pydicom reads a list.
        keyword = rng.choice(["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
        tag = pydicom.tag.Tag(pydicom.datadict.tag_for_keyword(keyword))
        vr = rng.choice([b"US", b"FD"])
        value = struct.pack("<HH", 20301, 20302) if vr == b"US" else struct.pack("<d", 1.5)
        data = _encode(ds)  # then the element rewritten in the bytes (pydicom will not write it)
        head = struct.pack("<HH", tag.group, tag.element)
        at = data.find(head + b"UI", 132 + 12 + struct.unpack("<I", data[140:144])[0])
        length = struct.unpack("<H", data[at + 6 : at + 8])[0]
        data = data[:at] + head + vr + struct.pack("<H", len(value)) + value + data[at + 8 + length :]
        what = f"{keyword} as {vr.decode()}"
    elif kind == "clash":
        # Two women under one Study Instance UID: this file and a companion of another patient.
        companion = _base(rng)
        companion.StudyInstanceUID = ds.StudyInstanceUID
        companion.PatientID, companion.PatientName = "OTHER-999", "Other^Eve"
        companion.ImageLaterality = "L" if ds.ImageLaterality == "R" else "R"
        (folder / f"fuzz_{seed:05d}_other.dcm").write_bytes(_encode(companion))
        what = "two patients in one study"
    elif kind == "control":
        for keyword in TEXT_KEYWORDS:
            raw_element(ds, keyword, rng.choice(CONTROL_TEXT))
        what = "control bytes in every text element"
    elif kind == "name":
        stem = rng.choice(
            [
                "\x1b[2J\x1b[31mevil",
                "new\nline",
                "x" * 240,
                "-h",
                " spaced out ",
                "名前_L_CC",
                "tab\there",
                "\x7f\x1bdel",
                "a" * 200 + "\x1b]0;title\x07",
            ]
        )
        name = f"{stem}_{seed:05d}.dcm"
        what = f"file name {name[:30]!r}"
    path = folder / name
    if data is None:
        data = _encode(ds)
    path.write_bytes(data)
    return path, what


def _main() -> None:
    """Run a seed range through the library and hds-predict; print a tally of outcomes."""
    import argparse
    import collections
    import subprocess
    import sys
    import tempfile

    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0-500", help="FIRST-LAST")
    p.add_argument("--keep", help="folder to keep the files and the results in")
    args = p.parse_args()
    first, last = (int(x) for x in args.seeds.split("-"))
    root = Path(args.keep or tempfile.mkdtemp(prefix="fuzz-"))
    (root / "in").mkdir(parents=True, exist_ok=True)
    for seed in range(first, last + 1):
        mutant(seed, root / "in")
    out = root / "out"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mammo_viewer.headless",
            str(root / "in"),
            "--out",
            str(out / "json"),
            "--seg-dir",
            str(out / "seg"),
            "--sr-dir",
            str(out / "sr"),
            "--pdf",
            str(out / "report.pdf"),
        ],
        capture_output=True,
        text=True,
        errors="backslashreplace",
    )
    tally = collections.Counter()
    for line in run.stderr.splitlines():
        if "failed:" in line:
            tally[line.split(": ")[-1].split(" (")[0][:70]] += 1
    print(f"{last - first + 1} files; hds-predict exit {run.returncode}")
    for reason, count in tally.most_common():
        print(f"{count:5d}  {reason}")
    print("\n".join(run.stderr.splitlines()[-3:]))
    if "Traceback" in run.stderr:
        print(run.stderr[run.stderr.index("Traceback") :][:4000])


if __name__ == "__main__":
    _main()
