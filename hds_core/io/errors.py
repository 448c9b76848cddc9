"""Typed read errors. Each carries the file, a plain reason and, where there is one, the fix.

The viewer lists them in its failures panel and the CLIs print them per file, so the
message must make sense to a reader, not only to a developer."""

from __future__ import annotations

from pathlib import Path


class MammoReadError(Exception):
    """A file could not be read as a mammogram."""

    kind = "unreadable"

    def __init__(self, path: str | Path, reason: str, fix: str | None = None):
        self.path = Path(path)
        self.reason = reason
        self.fix = fix
        message = f"{self.path}: {reason}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)


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
    """A DICOM object without an image (SR, PDF, presentation state, ...)."""

    kind = "no pixel data"


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
