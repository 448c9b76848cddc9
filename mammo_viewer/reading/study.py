"""The opened study as the reader sees it: images, their decoded pixels and cached engine
results, scores per breast and exam, the lesion table and the threshold's validation
figures. Qt-free: the window only displays it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hds_core.findings import Lesion, Prediction
from hds_core.io import MammoImage, MammoMetadata
from hds_core.report.content import breast_scores

from .hanging import ViewInfo
from .stack_reading import lesion_slice


@dataclass
class StudyImage:
    key: str
    path: Path
    metadata: MammoMetadata
    image: MammoImage | None = None  # on screen: a reduced level first (image.level > 0), then full resolution
    model_image: MammoImage | None = None  # the network's input level read from the file; None: ``image``
    chest_wall_right: bool | None = None
    prediction: Prediction | None = None
    error: str | None = None  # decoding or engine failure, shown to the reader
    not_analysed: str | None = None  # why the AI is not run on this image (not a mammogram)
    detail_error: str | None = None  # why full resolution could not be decoded after the first look
    # A tomosynthesis stack's slices at the level that fills its view (slice index -> image),
    # decoded in the background: the reader steps through them without waiting for the decoder.
    slices: dict[int, MammoImage] = field(default_factory=dict)

    @property
    def at_full_resolution(self) -> bool:
        return self.image is not None and self.image.level == 0

    @property
    def label(self) -> str:
        return f"{self.metadata.laterality or '?'} {self.metadata.view or '?'}"

    def view_info(self) -> ViewInfo:
        m = self.metadata
        return ViewInfo(
            self.key,
            m.laterality,
            m.view,
            m.patient_orientation,
            self.chest_wall_right,
            "DBT" if m.is_stack else "2D",
            m.synthesized_2d,
        )


@dataclass(frozen=True)
class LesionRow:
    key: str
    view: str
    lesion: Lesion
    new_since: str | None = None  # the prior's date when nothing was near its place then
    slice: int | None = None  # a tomosynthesis finding's sharpest slice (1-based, spatial order)

    @property
    def place(self) -> str:
        """The view and the finding's number, and on a stack its slice: "R CC #1 · slice 11"."""
        return f"{self.view} #{self.lesion.index}" + (f" · slice {self.slice}" if self.slice is not None else "")


@dataclass
class Study:
    """One patient's study; images keep the order they were found in."""

    patient_id: str | None
    patient_name: str | None
    birth_date: str | None
    study_date: str | None
    description: str | None
    study_uid: str | None
    images: dict[str, StudyImage] = field(default_factory=dict)

    def view_infos(self) -> list[ViewInfo]:
        return [image.view_info() for image in self.images.values()]

    def predicted(self) -> list[StudyImage]:
        return [image for image in self.images.values() if image.prediction is not None]

    def breast_scores(self) -> dict[str, float]:
        """Per breast ("R", "L", or "?" for unknown laterality): the maximum of its views' scores."""
        return breast_scores((image.metadata.laterality, image.prediction.score) for image in self.predicted())

    def exam_score(self) -> float | None:
        scores = self.breast_scores()
        return max(scores.values()) if scores else None

    def lesion_rows(self, threshold: float, new: dict | None = None) -> list[LesionRow]:
        """Every lesion at ``threshold`` of every analysed view, most probable first; ``new``:
        (image key, lesion index) -> the prior's date, for the lesions new since it."""
        new = new or {}
        rows = []
        for image in self.predicted():
            for lesion in image.prediction.lesions(threshold):
                at = lesion_slice(image.prediction, lesion, threshold)
                rows.append(
                    LesionRow(
                        image.key,
                        image.label,
                        lesion,
                        new.get((image.key, lesion.index)),
                        at + 1 if at is not None else None,
                    )
                )
        return sorted(rows, key=lambda row: -row.lesion.max_probability)


def study_from_scan(scan, patient_id: str, study_uid: str) -> Study:
    """A scanned study (hds_core.io.scan) as the viewer holds it, nothing decoded yet."""
    patient = scan.patients[patient_id]
    entry = patient.studies[study_uid]
    study = Study(patient.patient_id, patient.name, patient.birth_date, entry.date, entry.description, entry.study_uid)
    for image in entry.images:
        study.images[str(image.path)] = StudyImage(str(image.path), image.path, image.metadata)
    return study
