"""The open folder's state from scan to analysis, without a widget: which study is shown,
which of its images are decoded, which were handed to the engine, the results kept while the
folder is open, and when the study has settled (decoded and analysed, or failed). The
window feeds it the workers' events and draws what it says; tests drive it directly."""

from __future__ import annotations

from dataclasses import dataclass

from hds_core.infer import not_a_mammogram
from hds_core.io import ScanResult
from hds_core.priors import ordered, priors_in_scan
from hds_core.report.content import format_dicom_date

from .comparison import new_since
from .study import Study, StudyImage, study_from_scan

APP_NAME = "Mammo HDS viewer"


@dataclass(frozen=True)
class Skipped:
    """An image the AI is not run on, and why (shown on the view and in the problems list)."""

    key: str
    reason: str


def not_analysed_text(path, reason: str) -> str:
    """The problems list's line for an image the AI is not run on."""
    return f"{path}: not a mammogram ({reason}): displayed, AI not run"


def scan_summary(result: ScanResult) -> str:
    """The status line after a scan, whole: images, patients, how many are not mammograms (and
    of which modality), files not read."""
    images = len(result.images)
    if not images:
        text = f"No mammograms found in {result.root}"
        return text + (f" ({len(result.failures)} file(s) not read, see Problems)" if result.failures else "")
    others = [e.metadata for e in result.images if not_a_mammogram(e.metadata)]
    parts = [f"{images} image(s) in {len(result.patients)} patient(s)"]
    if others:
        kinds = sorted({(m.modality or m.file_format or "?").strip() or "?" for m in others})
        parts.append(f"{len(others)} not a mammogram ({', '.join(kinds)}): displayed, AI not run")
    if result.failures:
        parts.append(f"{len(result.failures)} file(s) not read, see Problems")
    return "; ".join(parts)


class StudyController:
    def __init__(self):
        self.scan: ScanResult | None = None
        self.study: Study | None = None
        self.prior: Study | None = None  # the earlier study hung beside it (decoded and analysed after it)
        self.prior_candidates: list = []  # hds_core.priors.PriorCandidate: every earlier study found
        self.predictions: dict[str, object] = {}  # image key -> Prediction, kept while the folder is open
        self.pending_decode = 0
        self.queued: set[str] = set()
        self.settled_sent = True

    def clear(self) -> None:
        self.scan, self.study, self.prior, self.prior_candidates = None, None, None, []
        self.predictions.clear()
        self.queued = set()

    def opening(self) -> None:
        """A folder is being scanned: the study settles once it is shown and done, or fails."""
        self.settled_sent = False

    def show(self, patient_id: str, study_uid: str) -> Study:
        """Make the scan's study current (nothing decoded yet); its earlier studies in the
        folder become its prior candidates (others may come from the cache or the PACS)."""
        self.study = study_from_scan(self.scan, patient_id, study_uid)
        self.prior, self.prior_candidates = None, ordered(priors_in_scan(self.scan, patient_id, study_uid))
        self.queued = set()
        self.settled_sent = False
        return self.study

    def add_candidates(self, candidates: list) -> None:
        """Priors found elsewhere (the cache, the PACS): one per study, most recent first."""
        self.prior_candidates = ordered(self.prior_candidates + list(candidates))

    def set_prior(self, prior: Study | None) -> list[str]:
        """Hang ``prior`` beside the current study; the keys of its images, to be decoded after
        the current study's. The prior it replaces is no longer waited for."""
        if self.prior is not None:
            self.pending_decode -= sum(i.image is None and i.error is None for i in self.prior.images.values())
        self.prior = prior
        if prior is None:
            return []
        for key, item in prior.images.items():
            item.prediction = self.predictions.get(key)
        self.pending_decode += len(prior.images)
        self.settled_sent = False
        return list(prior.images)

    def image(self, key: str) -> StudyImage | None:
        """The image of ``key`` in the current study or its prior."""
        for study in (self.study, self.prior):
            if study is not None and key in study.images:
                return study.images[key]
        return None

    def new_since_prior(self, threshold: float) -> dict:
        """Lesion (image key, lesion index) -> the prior's date, for each lesion at ``threshold``
        with no finding near its place in the prior's same view (hds_core.findings.comparison);
        empty without an analysed prior."""
        if self.study is None or self.prior is None:
            return {}
        return new_since(self.study, self.prior, threshold)

    def add_arrived(self, scan: ScanResult) -> list[StudyImage]:
        """The images of the shown study that ``scan`` (its folder scanned again while the study
        arrives from the PACS) holds and the study lacks: added, to be decoded."""
        if self.study is None:
            return []
        self.scan = scan
        patient = scan.patients.get(self.study.patient_id)
        entry = patient.studies.get(self.study.study_uid) if patient else None
        new = [
            StudyImage(str(image.path), image.path, image.metadata)
            for image in (entry.images if entry else [])
            if str(image.path) not in self.study.images
        ]
        for item in new:
            self.study.images[item.key] = item
        self.pending_decode += len(new)
        if new:
            self.settled_sent = False
        return new

    def decode_order(self, visible: list[str]) -> list[str]:
        """Visible views first, in reading order: the first image shows while the rest decode."""
        order = list(visible) + [key for key in self.study.images if key not in set(visible)]
        self.pending_decode = len(order)
        return order

    def decoded(self, key: str, image, chest_wall_right: bool | None, model_image=None) -> StudyImage | None:
        """The image of ``key`` is decoded for a first look; its result is restored if it was
        analysed before."""
        item = self.image(key)
        if item is None:
            return None
        self.pending_decode -= 1
        item.image, item.chest_wall_right, item.model_image = image, chest_wall_right, model_image
        item.prediction = self.predictions.get(key)
        return item

    def detailed(self, key: str, image) -> StudyImage | None:
        """Full resolution of ``key`` arrived: it replaces the reduced level on screen."""
        item = self.image(key)
        if item is None or item.image is None:
            return None
        image.adopt_presets(item.image)
        item.image, item.detail_error = image, None
        return item

    def sliced(self, key: str, image) -> StudyImage | None:
        """Another slice of the stack ``key`` arrived: it is the one on screen now."""
        item = self.image(key)
        if item is None or item.image is None:
            return None
        item.image = image
        return item

    def detail_failed(self, key: str, message: str) -> StudyImage | None:
        item = self.image(key)
        if item is not None:
            item.detail_error = message
        return item

    def detail_order(self, visible: list[str]) -> list[StudyImage]:
        """Images still shown at a reduced level, the visible ones first (the prior's only
        where they are on screen)."""
        if self.study is None:
            return []
        on_screen = {k: v for k, v in (self.prior.images if self.prior else {}).items() if k in visible}
        images = {**self.study.images, **on_screen}
        order = [k for k in visible if k in images] + [k for k in images if k not in set(visible)]
        return [
            images[k]
            for k in order
            if images[k].image is not None and not images[k].at_full_resolution and images[k].detail_error is None
        ]

    def decode_failed(self, key: str, message: str) -> StudyImage | None:
        item = self.image(key)
        if item is None:
            return None
        self.pending_decode -= 1
        item.error = message
        return item

    def to_analyse(self, visible: list[str]) -> tuple[list[StudyImage], list[Skipped]]:
        """Decoded images to hand to the engine, once the views on screen have all decoded (on
        a few cores, inference beside the decoding would delay the images the reader waits
        for), and the images it must not see (not mammograms: displayed, never scored)."""
        if self.study is None:
            return [], []
        images = self.study.images
        if any(images[k].image is None and images[k].error is None for k in visible if k in images):
            return [], []
        waiting = any(item.image is None and item.error is None for item in images.values())
        # The prior after the current study: its images join once every current one is queued.
        if self.prior is not None and not waiting:
            images = {**images, **self.prior.images}
        ready, skipped = [], []
        for key, item in images.items():
            if item.image is not None and item.prediction is None and key not in self.queued:
                self.queued.add(key)
                reason = not_a_mammogram(item.metadata)
                if reason:
                    item.not_analysed = "not a mammogram: AI not run"
                    skipped.append(Skipped(key, reason))
                else:
                    ready.append(item)
        return ready, skipped

    def forget_results(self, keys) -> None:
        """Drop the results of ``keys`` so they are analysed again (the reader set a spacing)."""
        self.settled_sent = False
        for key in keys:
            self.predictions.pop(key, None)
            self.queued.discard(key)
            if self.image(key) is not None:
                self.image(key).prediction = None

    def predicted(self, key: str, prediction, compare_breasts=None) -> bool:
        """Keep ``prediction``; ``compare_breasts`` re-scores every kept result against the
        other breast's same view (bilateral.py). False when the image is no longer shown."""
        item = self.image(key)
        if item is None:
            return False
        item.prediction = prediction
        self.predictions[key] = prediction
        if compare_breasts is not None:
            compare_breasts(list(self.predictions.values()))
        return True

    def predict_failed(self, key: str, message: str) -> bool:
        item = self.image(key)
        if item is None:
            return False
        item.error = f"AI failed: {message}"
        return True

    def analyse_again(self) -> None:
        self.settled_sent = False
        self.queued = set()

    def settle(self, *, analysing: bool, failed: str | None = None) -> bool:
        """True once, when the study has settled: decoded and analysed, or failed."""
        if self.settled_sent or (self.study is None and not failed):
            return False  # still scanning (or nothing opened)
        decoding = self.study is not None and self.pending_decode > 0
        if failed or (not decoding and not analysing):
            self.settled_sent = True
            return True
        return False

    def settled_summary(self) -> str:
        """The status line once the study on screen has settled, whole."""
        images = list(self.study.images.values()) if self.study else []
        analysed = sum(image.prediction is not None for image in images)
        stacks = sum(image.prediction is not None and image.metadata.is_stack for image in images)
        skipped = sum(bool(image.not_analysed) for image in images)
        text = f"Analysed {analysed} of {len(images)} image(s)"
        if stacks:
            text += f" ({stacks} tomosynthesis stack(s), slab by slab with the 2-D model)"
        if skipped:
            text += f"; {skipped} not a mammogram (AI not run)"
        if self.prior is not None:
            prior = list(self.prior.images.values())
            done = sum(image.prediction is not None for image in prior)
            text += f"; prior of {format_dicom_date(self.prior.study_date)}: {done} of {len(prior)} analysed"
        failures = len(self.scan.failures) if self.scan else 0
        if failures:
            text += f"; {failures} file(s) in the folder not read, see Problems"
        return text

    def idle_text(self, engine_error: str | None) -> str:
        """Why no image is being analysed, for the progress bar."""
        if engine_error:
            return "AI not available"
        images = list(self.study.images.values()) if self.study else []
        if not images:
            return "no image to analyse"
        if any(image.prediction is not None for image in images):
            return f"{sum(image.prediction is not None for image in images)} image(s) analysed"
        if all(image.error or image.not_analysed for image in images):
            return "no readable mammogram to analyse"
        return "analysis cancelled" if self.queued else "no image analysed yet"

    def title(self, hide_phi: bool) -> str:
        """The window title: who and when, or only that details are hidden."""
        study = self.study
        if study is None:
            return APP_NAME
        if hide_phi:
            who = "patient details hidden"
        else:
            name = str(study.patient_name).replace("^", " ") if study.patient_name else None
            birth = f"born {format_dicom_date(study.birth_date)}" if study.birth_date else None
            who = ", ".join(filter(None, (name, study.patient_id, birth)))
        return " — ".join(filter(None, (who, format_dicom_date(study.study_date), APP_NAME)))
