"""Typed read errors. Each carries the file, a plain reason and, where there is one, the fix.

The viewer lists them in its failures panel and the CLIs print them per file, so the
message must make sense to a reader, not only to a developer."""

from __future__ import annotations

from pathlib import Path

from ..text import printable


class MammoReadError(Exception):
    """A file could not be read as a mammogram."""

    kind = "unreadable"

    def __init__(self, path: str | Path, reason: str, fix: str | None = None):
        self.path = Path(path)
        self.reason = reason
        self.fix = fix
        message = f"{printable(self.path)}: {reason}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)

    def __reduce__(self):
        # Errors cross process boundaries (the viewer decodes in decoder processes).
        return type(self), (self.path, self.reason, self.fix)


class EmptyFileError(MammoReadError):
    kind = "empty file"


class UnreadableFileError(MammoReadError):
    kind = "cannot open"


class NotAnImageError(MammoReadError):
    """Neither DICOM nor a supported raster format."""

    kind = "not DICOM"


class TruncatedFileError(MammoReadError):
    kind = "truncated"


class NoPixelDataError(MammoReadError):
    """An image object (or an object of unknown kind) that holds no pixel data."""

    kind = "no pixel data"


class NonImageObjectError(NoPixelDataError):
    """A DICOM object that is not meant to hold an image (SR, PDF, presentation state, ...).

    Every archive holds these beside the images: folder scans skip and count them rather
    than list them as failures."""

    kind = "not an image"


class PixelSizeMismatchError(MammoReadError):
    kind = "size does not match"


class UnsupportedTransferSyntaxError(MammoReadError):
    kind = "unsupported syntax"


class ImageTooLargeError(MammoReadError):
    kind = "too large"


class InvalidHeaderError(MammoReadError):
    """Header values that make no sense together (missing or contradictory tags)."""

    kind = "bad header"


class UnsupportedImageError(MammoReadError):
    """A valid image that is not a single-frame grayscale mammogram."""

    kind = "unsupported image"


class DecodeError(MammoReadError):
    kind = "decode failed"
