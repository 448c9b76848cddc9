"""One file analysed and its result written, the way every command does it: ``hds-predict`` on
one machine and ``hds-batch`` on a Ray cluster read, predict and write through these functions,
so the same file gives the same JSON to the last digit whichever ran it.

- :func:`read_for_analysis`: the file read as the network needs it (JPEG 2000 films at the
  network's own level; in full where a PDF prints them), with what its decoders said;
- :func:`analyse`: the engine on it (a tomosynthesis stack slab by slab);
- :func:`result_text` and :func:`write_result`: its JSON, written atomically, never over
  another image's result."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..text import clipped

WRITTEN, UNCHANGED = "written", "unchanged"


class DamagedFileError(Exception):
    """A file whose decoder reported errors, refused on request (``--refuse-damaged``)."""


@dataclass
class Read:
    """A file read for analysis: the image (a stack's: its middle slice) and what its decoders
    said (C decoders print their complaints; they are kept, not shown)."""

    path: Path
    image: object  # MammoImage
    decoder_said: list[str] = field(default_factory=list)
    stack: object = None  # a tomosynthesis stack's StackReader

    @property
    def damage(self) -> str | None:
        return clipped("; ".join(self.decoder_said), 200) if self.decoder_said else None


@dataclass
class Analysed:
    path: Path
    image: object  # MammoImage (a stack's middle slice); None once no report needs it (memory)
    prediction: object  # Prediction or StackPrediction
    metadata: object = None  # MammoMetadata: the image's, kept when the image is let go

    def __post_init__(self):
        if self.metadata is None and self.image is not None:
            self.metadata = self.image.metadata

    @property
    def identity(self) -> dict:
        meta = self.metadata
        return {
            "sop_instance_uid": meta.sop_instance_uid,
            "study_instance_uid": meta.study_instance_uid,
            "laterality": meta.laterality,
            "view": meta.view,
        }


def read_for_analysis(path: Path, network, *, stack: bool, full: bool, spacing: float | None, run_log) -> Read:
    """``path`` read for the network ``network`` (``hds_core.network_input.NetworkInput``).
    Raises MammoReadError naming the file and the fault."""
    from ..io import read_image, read_preview
    from ..io.dicom import StackReader
    from .run_log import native_output_to

    with native_output_to(run_log) as decoder_said:
        if stack:
            reader = StackReader(path)
            return Read(path, reader.slice(reader.metadata.frames // 2), list(decoder_said), reader)
        # JPEG 2000 films are read at the network's own level: the same input as from the full
        # decode, a fraction of the time. A PDF prints the films: in full.
        image = read_image(path) if full else read_preview(path, network=network, unknown_spacing_mm=spacing)
    return Read(path, image, list(decoder_said))


def analyse(read: Read, predictor, *, spacing: float | None, refuse_damaged: bool, run_log, slab_mm=None) -> Analysed:
    """The engine on a file read by :func:`read_for_analysis`. Raises NotAMammogramError,
    DamagedFileError (with ``refuse_damaged``) or MammoReadError."""
    if read.stack is not None:
        from ..infer.stack import SLAB_MM, predict_stack
        from .run_log import native_output_to

        meta = read.stack.metadata
        given = (spacing, spacing) if spacing and meta.pixel_spacing_mm is None else None
        with native_output_to(run_log):
            result = predict_stack(
                lambda image: predictor.predict(image, spacing_mm=given),
                read.stack,
                slab_mm=slab_mm or SLAB_MM,
                level=predictor.input.level(given or meta.spacing_for_network),
            )
        return Analysed(read.path, read.image, result)
    image = read.image
    given = (spacing, spacing) if spacing and image.metadata.pixel_spacing_mm is None else None
    if read.damage and refuse_damaged:
        raise DamagedFileError(f"{read.path}: decoded with errors, not analysed: {read.damage}")
    prediction = predictor.predict(image, spacing_mm=given)
    if read.damage:
        prediction.warnings.append(f"decoded with errors: {read.damage}")
    return Analysed(read.path, image, prediction)


def result_text(analysed: Analysed, threshold: float) -> str:
    """The result's JSON, as every command writes it."""
    return json.dumps({**analysed.prediction.to_dict(threshold), **analysed.identity}, indent=1) + "\n"


def write_result(target: Path, text: str, analysed: Analysed, *, force: bool) -> str:
    """``text`` at ``target``: WRITTEN, UNCHANGED (the same result is there: left alone), or
    why not (another content without ``force``, another image's result, a write error)."""
    from ..report.identity import replacement_refused
    from ..safe_write import atomic_write_text

    if target.exists():
        try:
            if target.read_text() == text:
                return UNCHANGED  # a rerun (say, to add a PDF) leaves identical results alone
        except (OSError, UnicodeDecodeError):
            pass
        if not force:
            return f"{target}: exists already with other content (use --force to overwrite)"
        identity = analysed.identity
        refused = replacement_refused(
            target, "JSON result", identity["study_instance_uid"] or "", identity["sop_instance_uid"], analysed.path
        )
        if refused:
            return refused
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # only once there is something to write
        atomic_write_text(target, text)
    except OSError as exc:  # this result is lost, not the others
        return f"{target}: cannot write: {exc.strerror or exc}"
    return WRITTEN


def log_internal_error(run_log: logging.Logger, path: Path, exc: Exception, log_path: Path | None) -> str:
    """A bug on one file, logged with its traceback; the line that names it."""
    from ..text import printable

    run_log.exception("internal error on %s", printable(path))
    return f"{path}: internal error ({type(exc).__name__}; a bug, please report it" + (
        f"; traceback in {log_path})" if log_path else ")"
    )
