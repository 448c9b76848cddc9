"""What a report says, built once from the analysed images (Qt-free): the viewer's PDF and
the headless ``hds-predict --pdf`` draw the same content."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .. import __version__
from ..density import breast_densities
from ..findings import Lesion, Prediction
from ..findings.stack import StackFinding, StackPrediction
from ..io import MammoImage
from .exam_decile import ExamDeciles
from .operating_point import operating_point
from .reading import AIMark, Reading

DISCLAIMER = (
    "Research software, not for diagnosis. The AI marks and scores have not been validated for clinical use "
    "and must not replace a radiologist's reading."
)


def reading_order(metadata) -> tuple:
    """Readers list right before left, CC before MLO (as the films hang): R CC, L CC, R MLO,
    L MLO, then anything else."""
    side = {"R": 0, "L": 1}.get(metadata.laterality or "", 2)
    view = (metadata.view or "").upper()
    family = 0 if view.endswith("CC") else 1 if "ML" in view or "LM" in view else 2
    return family, side, str(metadata.path)


MAX_STACK_PAGES = 8  # a stack's findings each get a page with their slice, the most probable first


@dataclass
class ReportImage:
    image: MammoImage  # a stack's: the slice printed (its most probable finding's, else its middle one)
    prediction: Prediction  # a stack's: its StackPrediction (the stack's score)
    lesions: list[Lesion]  # listed in the table (a stack's: all its findings)
    drawn: list[Lesion] | None = None  # outlined on ``image``; None: ``lesions``
    heat: Prediction | None = None  # whose map tints ``image``; None: ``prediction``
    slices: int = 0  # a tomosynthesis stack: how many slices (0: a 2-D image)
    finding: StackFinding | None = None  # a stack's finding page: the finding on its slice
    pages: list[ReportImage] = field(default_factory=list)  # a stack: a page per finding, on its slice
    threshold: float | None = None  # a stack's: the threshold its findings were grouped at

    @property
    def label(self) -> str:
        m = self.image.metadata
        return f"{m.laterality or '?'} {m.view or '?'}"

    @property
    def slice_label(self) -> str:
        """On a stack's image, the slice printed ("slice 11/60"); empty for a 2-D image."""
        m = self.image.metadata
        if not self.slices or m.frame_number is None:
            return ""
        index = m.frame_order.index(m.frame_number - 1) if m.frame_order else m.frame_number - 1
        return f"slice {index + 1}/{self.slices}"

    def place(self, lesion: Lesion) -> str:
        """The table's name of ``lesion``: "R CC #1", on a stack "R CC #1 · slice 11"."""
        finding = self.prediction.finding(lesion.index, self.threshold) if self.slices else None
        return f"{self.label} #{lesion.index}" + (f" · slice {finding.slice_index + 1}" if finding else "")


def _report_image(image: MammoImage, prediction: Prediction, threshold: float) -> ReportImage:
    """A 2-D image as it is; a tomosynthesis stack as the slice of its most probable finding
    (else its middle slice) with the findings that span it, and a page per finding on its own
    slice, each slice read from the stack's file."""
    if not isinstance(prediction, StackPrediction):
        return ReportImage(image, prediction, prediction.lesions(threshold))
    from ..io.dicom import StackReader

    reader = StackReader(image.metadata.path)
    findings = prediction.findings(threshold)

    def on_slice(index: int, drawn: list[Lesion], heat: Prediction | None, finding=None) -> ReportImage:
        same = image.metadata.frame_number == prediction.frame_of(index) and image.metadata.slab_slices == 1
        shown = image if same else reader.slice(index)  # the viewer's may be a slab: a report prints slices
        slab = prediction.slab_of(index)
        return ReportImage(
            shown,
            prediction,
            [finding.lesion for finding in findings],
            drawn=drawn,
            heat=heat or (slab[1] if slab else None),
            slices=prediction.slices,
            finding=finding,
            threshold=threshold,
        )

    first = findings[0].slice_index if findings else prediction.slices // 2
    item = on_slice(first, [f.lesion for f in prediction.on_slice(first, threshold)], None)
    item.pages = [on_slice(f.slice_index, [f.lesion], f.prediction, f) for f in findings[:MAX_STACK_PAGES]]
    return item


@dataclass(frozen=True)
class Comparison:
    """The study against the woman's prior: the prior's date (None: no prior available) and
    the lesions (image file, lesion index) with no finding near their place on the prior."""

    prior_date: str | None
    new: frozenset = frozenset()

    @property
    def line(self) -> str:
        if self.prior_date is None:
            return "No prior available: read without comparison."
        return f"Compared with the prior study of {format_dicom_date(self.prior_date)}."

    def is_new(self, path, index: int) -> bool:
        return (str(path), index) in self.new


@dataclass
class ReportContent:
    images: list[ReportImage]
    threshold: float
    operating_point: dict | None
    anonymized: bool
    patient: list[tuple[str, str]]  # (label, value) lines; de-identified when anonymized
    study: list[tuple[str, str]]
    provenance: list[tuple[str, str]]
    exam_score: float | None
    breast_scores: dict[str, float] = field(default_factory=dict)
    disclaimer: str = DISCLAIMER
    score_note: str | None = None  # what the score is worth (operating_point.score_trust)
    identity_note: str | None = None  # the study was split: its images disagree on the patient
    density: dict[str, dict] = field(default_factory=dict)  # per breast: hds_core.density.breast_densities
    comparison: Comparison | None = None  # None: not compared (hds-predict); else the line and the new findings
    reading: Reading | None = None  # the radiologist's reading of the study, printed first (atlas order)
    deciles: ExamDeciles | None = None  # where the exam score falls among the validation exams

    def ai_decision(self, item: ReportImage, lesion: Lesion) -> AIMark | None:
        """The reader's decision on an AI mark (accepted or dismissed): the mark she decided on
        lies in this lesion's box on this image (whatever threshold she read at)."""
        if self.reading is None:
            return None
        meta = item.image.metadata
        keys = {key for key in (meta.sop_instance_uid, str(meta.path)) if key}
        x, y, w, h = lesion.bbox_xywh
        for mark in self.reading.ai_marks:
            if mark.image in keys and x <= mark.x <= x + w and y <= mark.y <= y + h:
                return mark
        return None

    @property
    def scores_calibrated(self) -> bool:
        """Every image's score is a probability calibrated for its domain (film or digital)."""
        return all(item.prediction.calibrated for item in self.images)

    @property
    def weights_sha256(self) -> str:
        return self.images[0].prediction.weights_sha256 if self.images else ""


def format_dicom_date(value: str | None) -> str | None:
    """DICOM DA (YYYYMMDD) as YYYY-MM-DD; anything else as it is."""
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def breast_scores(scored) -> dict[str, float]:
    """(laterality, image score) pairs -> per breast ("R", "L", or "?" where the laterality is
    unknown) the maximum of its views' scores; the exam's score is the maximum of these."""
    scores: dict[str, float] = {}
    for laterality, score in scored:
        side = laterality if laterality in ("R", "L") else "?"
        scores[side] = max(scores.get(side, 0.0), score)
    return scores


def build_report(
    analysed: list[tuple[MammoImage, Prediction]],
    threshold: float,
    *,
    threshold_table: list[dict] | None = None,
    anonymize: bool = False,
    analysed_at: dt.datetime | None = None,
    score_note: str | None = None,
    identity_note: str | None = None,
    comparison: Comparison | None = None,
    reading: Reading | None = None,
    deciles: ExamDeciles | None = None,
) -> ReportContent:
    """``analysed``: the images of ONE study with their predictions, in any order."""
    if not analysed:
        raise ValueError("nothing to report: no analysed images")
    images = sorted(
        (_report_image(image, prediction, threshold) for image, prediction in analysed),
        key=lambda item: reading_order(item.image.metadata),
    )
    first = images[0].image.metadata
    if anonymize:
        patient = [("Patient", "de-identified")]
    else:
        name = str(first.patient_name).replace("^", " ").strip() if first.patient_name else "unknown"
        patient = [
            ("Patient", name),
            ("Patient ID", first.patient_id or "unknown"),
            ("Birth date", format_dicom_date(first.patient_birth_date) or "unknown"),
        ]
    study = [("Exam date", format_dicom_date(first.study_date) or "unknown"), ("Study", first.study_description or "—")]
    if not anonymize and first.accession_number:
        study.append(("Accession", first.accession_number))
    scores = breast_scores((item.image.metadata.laterality, item.prediction.score) for item in images)
    prediction = images[0].prediction
    when = (analysed_at or dt.datetime.now().astimezone()).isoformat(timespec="seconds")
    # One model per domain: a study's images may have been served by more than one.
    models = dict.fromkeys((item.prediction.model_name, item.prediction.weights_sha256) for item in images)
    domains = dict.fromkeys(
        f"{item.prediction.domain} ({item.prediction.domain_source.partition(': ')[0]})"
        for item in images
        if item.prediction.domain and item.prediction.domain_source
    )
    provenance = [
        ("Software", f"mammo-hds {__version__}"),
        *[("Model", name) for name, _ in models],
        *[("Weights sha256", sha) for _, sha in models],
        *([("Read as", ", ".join(domains))] if domains else []),
        ("Device", f"{prediction.device} ({prediction.precision})"),
        ("Analysed", when),
        ("Study Instance UID", first.study_instance_uid or "—"),
    ]
    provenance += [(f"SOP Instance UID {item.label}", item.image.metadata.sop_instance_uid or "—") for item in images]
    return ReportContent(
        images=images,
        threshold=threshold,
        operating_point=operating_point(threshold_table or [], threshold),
        anonymized=anonymize,
        patient=patient,
        study=study,
        provenance=provenance,
        exam_score=max(scores.values()) if scores else None,
        breast_scores=scores,
        score_note=score_note,
        identity_note=identity_note,
        density=breast_densities([item.prediction for item in images]),
        comparison=comparison,
        reading=reading,
        deciles=deciles,
    )
