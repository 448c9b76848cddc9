"""A generated corpus of the broken and odd files a DICOM archive holds, beside good ones.

``write_corpus(folder)`` fills ``folder`` and returns a :class:`Corpus` that says, per file
name, which typed error the reader must raise (or that it is a non-image object the scan
skips, or a good image). The same corpus is run through the library, the viewer and
``hds-predict``, so each layer is held to the same list.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import JPEG2000Lossless, generate_uid
from synthetic import mg_dataset, phantom, write_codestream_size_bomb, write_deflate_bomb, write_dicom

from hds_core.io import errors

# A name that is not valid UTF-8 (Latin-1 "é"): Linux file names are bytes, and archives
# written on old systems hold such names. os.fsdecode turns it into a lone surrogate.
NON_UTF8_NAME = os.fsdecode(b"caf\xe9_L_CC.dcm") if sys.platform.startswith("linux") else "cafe_L_CC.dcm"


@dataclass
class Corpus:
    root: Path
    good: list[str] = field(default_factory=list)  # file names that must be read and predicted
    broken: dict[str, type[errors.MammoReadError]] = field(default_factory=dict)  # name -> error
    skipped: dict[str, str] = field(default_factory=dict)  # non-image objects: name -> kind
    at_decode: set[str] = field(default_factory=set)  # broken files that only decoding can find
    unreadable: str = "locked.dcm"  # readable only when the test denies access to it

    def path(self, name: str) -> Path:
        return self.root / name


def _save(ds, path: Path, **kwargs) -> None:
    ds.save_as(path, enforce_file_format=kwargs.pop("enforce", True), **kwargs)


def write_corpus(root: Path, *, shape=(128, 96)) -> Corpus:
    root.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(root)
    pixels, _ = phantom(shape, seed=11)
    # One study, so the viewer hangs the good films together and meets the broken ones there.
    ids = {"StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid()}

    # Good images, one of them under a non-UTF-8 name.
    write_dicom(
        root / "good_R_CC.dcm", pixels, ImageLaterality="R", ViewPosition="CC", ImagerPixelSpacing=[0.4, 0.4], **ids
    )
    write_dicom(
        root / NON_UTF8_NAME,
        phantom(shape, seed=12)[0],
        ImageLaterality="L",
        ViewPosition="CC",
        ImagerPixelSpacing=[0.4, 0.4],
        **ids,
    )
    # A good film with one damaged element we do not need (Study Description with a VR code
    # that does not exist): pydicom cannot convert it, the image must still be read.
    damaged = write_dicom(
        root / "damaged_description_L_MLO.dcm",
        phantom(shape, seed=13)[0],
        ImageLaterality="L",
        ViewPosition="MLO",
        ImagerPixelSpacing=[0.4, 0.4],
        StudyDescription="MAMMO SCREENING",
        **ids,
    )
    data = damaged.read_bytes()
    assert data.count(b"\x08\x00\x30\x10LO") == 1
    damaged.write_bytes(data.replace(b"\x08\x00\x30\x10LO", b"\x08\x00\x30\x10ZZ"))
    corpus.good = ["good_R_CC.dcm", NON_UTF8_NAME, damaged.name]
    reference = (root / "good_R_CC.dcm").read_bytes()

    def broken(name: str, error: type[errors.MammoReadError], data: bytes | None = None, ds=None, **save):
        path = root / name
        if data is not None:
            path.write_bytes(data)
        else:
            _save(ds, path, **save)
        corpus.broken[name] = error

    def dataset(**tags):
        return mg_dataset(pixels.copy(), ImageLaterality="R", ViewPosition="MLO", **ids, **tags)

    broken("zero_bytes.dcm", errors.EmptyFileError, b"")
    broken("not_dicom.dcm", errors.NotAnImageError, b"Patient list exported 2026-01-01\n" * 20)
    broken("garbage_after_preamble.dcm", errors.InvalidHeaderError, b"\0" * 128 + b"DICM" + bytes(range(256)) * 4)
    broken("truncated_header.dcm", errors.TruncatedFileError, reference[:300])
    broken("truncated_pixels.dcm", errors.TruncatedFileError, reference[: len(reference) - 4000])

    ds = dataset()
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    broken("pixel_data_short.dcm", errors.PixelSizeMismatchError, ds=ds)
    ds = dataset()
    ds.PixelData = ds.PixelData * 2
    broken("pixel_data_long.dcm", errors.PixelSizeMismatchError, ds=ds)

    ds = dataset()
    ds.Rows, ds.Columns = 65535, 65535
    broken("absurd_size.dcm", errors.ImageTooLargeError, ds=ds)
    ds = dataset()
    ds.Rows = 0
    broken("zero_rows.dcm", errors.InvalidHeaderError, ds=ds)

    ds = dataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder exists for a still image
    ds.PixelData = encapsulate([b"\0" * 64])
    broken("mpeg2_syntax.dcm", errors.UnsupportedTransferSyntaxError, ds=ds)
    ds = dataset()
    ds.file_meta.TransferSyntaxUID = "1.2.3.4.5.6.7.8"  # a private syntax nobody documents
    broken("unknown_syntax.dcm", errors.UnsupportedTransferSyntaxError, ds=ds, implicit_vr=False, little_endian=True)

    # Compressed data cut short inside the codestream, and a codestream with a damaged header.
    for name, damage in (
        ("jpeg2000_cut.dcm", lambda f: f[: len(f) // 2]),
        ("jpeg2000_bad_header.dcm", lambda f: f[:6] + b"\xff" * 34 + f[40:]),
    ):
        ds = dataset()
        ds.compress(JPEG2000Lossless)
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
        ds.PixelData = encapsulate([damage(frame)])
        broken(name, errors.DecodeError, ds=ds)
        corpus.at_decode.add(name)

    # Files built to exhaust memory: a deflated dataset holding 256 MiB of zeros in a private
    # element (1.2 MB on disk), and a codestream declaring 65000x65000 in a 128x96 file.
    write_deflate_bomb(
        root / "deflate_bomb.dcm", pixels, inflated_bytes=256 * 2**20, ImageLaterality="R", ViewPosition="MLO", **ids
    )
    corpus.broken["deflate_bomb.dcm"] = errors.ImageTooLargeError
    write_codestream_size_bomb(root / "jpeg2000_size_bomb.dcm", pixels, ImageLaterality="R", ViewPosition="MLO", **ids)
    corpus.broken["jpeg2000_size_bomb.dcm"] = errors.PixelSizeMismatchError
    corpus.at_decode.add("jpeg2000_size_bomb.dcm")

    broken("bits_stored_20.dcm", errors.InvalidHeaderError, ds=dataset(BitsStored=20))
    ds = dataset()
    del ds.PhotometricInterpretation
    broken("no_photometric.dcm", errors.InvalidHeaderError, ds=ds)
    ds = dataset()
    del ds.Rows
    broken("no_rows.dcm", errors.InvalidHeaderError, ds=ds)

    ds = dataset()
    ds.NumberOfFrames = 3
    ds.PixelData = np.stack([pixels] * 3).tobytes()
    broken("multi_frame.dcm", errors.UnsupportedImageError, ds=ds)
    ds = dataset()
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = np.zeros((*shape, 3), np.uint8).tobytes()
    broken("colour_photo.dcm", errors.UnsupportedImageError, ds=ds)

    ds = dataset()
    del ds.PixelData  # an MG image object that lost its pixels: a failure, not a skip
    broken("mg_without_pixels.dcm", errors.NoPixelDataError, ds=ds)

    # Non-image objects that sit in every real archive: skipped and counted, not failures.
    for name, sop_class, kind in (
        ("report_sr.dcm", "1.2.840.10008.5.1.4.1.1.88.33", "structured report"),
        ("cad_sr.dcm", "1.2.840.10008.5.1.4.1.1.88.50", "mammography CAD SR"),
        ("key_objects.dcm", "1.2.840.10008.5.1.4.1.1.88.59", "key object selection"),
        ("scanned_request.dcm", "1.2.840.10008.5.1.4.1.1.104.1", "encapsulated PDF"),
        ("presentation_state.dcm", "1.2.840.10008.5.1.4.1.1.11.2", "presentation state"),
    ):
        ds = dataset()
        del ds.PixelData
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.Modality = "SR" if ".88." in sop_class else "OT"
        _save(ds, root / name)
        corpus.skipped[name] = kind

    # Permissions: unreadable to anyone but root; for root (CI) the test denies access too.
    (root / corpus.unreadable).write_bytes(reference)
    os.chmod(root / corpus.unreadable, 0)
    corpus.broken[corpus.unreadable] = errors.UnreadableFileError
    # A link to itself (ELOOP) and a link to nothing.
    os.symlink("self_link.dcm", root / "self_link.dcm")
    corpus.broken["self_link.dcm"] = errors.UnreadableFileError
    os.symlink("gone.dcm", root / "dangling_link.dcm")
    corpus.broken["dangling_link.dcm"] = errors.UnreadableFileError
    # A named pipe would block a reader that opens it: it must be refused without opening.
    os.mkfifo(root / "pipe.dcm")
    corpus.broken["pipe.dcm"] = errors.UnreadableFileError
    # A broken file under a non-UTF-8 name too, and a folder link back to the root (a loop).
    (root / os.fsdecode(b"trunc\xe9.dcm")).write_bytes(reference[:300])
    corpus.broken[os.fsdecode(b"trunc\xe9.dcm")] = errors.TruncatedFileError
    (root / "sub").mkdir()
    os.symlink("..", root / "sub" / "loop")
    return corpus


def deny(monkeypatch, paths) -> None:
    """Make ``paths`` fail to open with EACCES, as the OS does for a user without read
    permission (CI runs as root, for whom chmod 000 changes nothing)."""
    import builtins
    import io

    denied = {os.path.abspath(os.fspath(p)) for p in paths}
    real_open, real_os_open = builtins.open, os.open

    def check(file):
        if isinstance(file, (str, bytes, os.PathLike)) and os.path.abspath(os.fsdecode(file)) in denied:
            raise PermissionError(13, "Permission denied", os.fsdecode(file))

    def guarded_open(file, *args, **kwargs):
        check(file)
        return real_open(file, *args, **kwargs)

    def guarded_os_open(file, *args, **kwargs):
        check(file)
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
