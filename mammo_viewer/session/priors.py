"""The prior beside the current study: found in the opened folder at once, then in the study
cache and on the PACS in the background (after the current study is on screen); the most
recent one whose identity agrees is hung by default, and the reader may pick another (View >
Prior). A candidate whose name or birth date disagrees is listed and said, never hung unless
the reader picks it. Hanging protocols are loaded here too: the shipped defaults and the
reader's own (a broken file of hers is named in Problems; the others still load)."""

from __future__ import annotations

import os
from pathlib import Path

from hds_core.priors import FOLDER, PACS, CacheIndex, default_prior, priors_on_pacs
from hds_core.report.content import format_dicom_date

from ..reading.protocols import ProtocolError, load_protocols
from ..reading.study import study_from_scan

PROTOCOLS_ENV = "MAMMO_VIEWER_PROTOCOLS"  # the reader's protocols folder, instead of the settings folder's


def protocols_folder() -> Path:
    """Where the reader's own hanging protocols live: <settings folder>/protocols."""
    if os.environ.get(PROTOCOLS_ENV):
        return Path(os.environ[PROTOCOLS_ENV])
    from PySide6.QtCore import QStandardPaths

    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)) / "protocols"


class Priors:
    """Mixed into MainWindow: its controller, grid, loader, PACS panel and problems list."""

    @staticmethod
    def protocols_folder() -> Path:
        return protocols_folder()

    def load_protocols(self) -> list[ProtocolError]:
        """The hanging protocols into the grid; the faults of the reader's files, also listed in
        Problems."""
        from resources import default_protocols

        try:
            protocols, faults = load_protocols(default_protocols(), protocols_folder())
        except ProtocolError as exc:  # the shipped file itself: a broken build, said, layouts still work
            protocols, faults = [], [exc]
        self.grid.protocols = protocols
        for fault in faults:
            self._problem(f"hanging protocol not used: {fault}")
        return faults

    def _start_priors(self) -> None:
        """The current study is on screen: its prior from the folder now, then the cache's and
        the PACS's in the background."""
        self.prior_worker.cancel()
        study = self.study
        for candidate in self.controller.prior_candidates:
            self._say_mismatch(candidate)
        chosen = default_prior(self.controller.prior_candidates)
        self.use_prior(chosen)  # None: no prior, said in the menu
        identity = self._identity()
        if identity is None or not identity[0]:
            return
        cache_root, node = self.pacs.panel.cache_root(), self.pacs.panel.chosen_node()
        if cache_root is None and node is None:
            return
        date, uid = study.study_date, study.study_uid

        def job(cancelled):
            found = []
            if cache_root is not None:
                from hds_core.node import StudyCache

                if not hasattr(self, "_cache_index") or self._cache_index.cache.root != cache_root:
                    self._cache_index = CacheIndex(StudyCache(cache_root))
                found += self._cache_index.priors(identity, uid, date)
            if node is not None and not cancelled():
                from hds_core.node import StudyQuery, find_studies

                records = find_studies(node[0], node[1], StudyQuery(patient_id=identity[0], modality="MG"))
                found += priors_on_pacs(records, identity, uid, date)
            return found

        self.prior_worker.submit(job, self._priors_found, self._prior_search_failed)

    def _identity(self) -> tuple | None:
        for item in self.study.images.values() if self.study else ():
            if item.metadata.file_format == "DICOM":
                return item.metadata.patient_identity
        return None

    def _prior_search_failed(self, exc: Exception) -> None:
        self._problem(f"priors on the PACS not searched: {exc}", show=False)
        self._status(f"Priors: the PACS was not searched ({exc})")

    def _priors_found(self, found: list) -> None:
        had = self.controller.prior
        self.controller.add_candidates(found)
        for candidate in found:
            self._say_mismatch(candidate)
        self._refresh_prior_menu()
        chosen = default_prior(self.controller.prior_candidates)
        if chosen is not None and (had is None or (chosen.date or "") > (had.study_date or "")):
            self.use_prior(chosen)

    def _say_mismatch(self, candidate) -> None:
        if candidate.mismatch:
            self._problem(
                f"an earlier study of {format_dicom_date(candidate.date)} in {candidate.source} has this patient ID "
                f"but {candidate.mismatch}: not hung as the prior (View > Prior to compare anyway)"
            )

    def use_prior(self, candidate) -> None:
        """Hang ``candidate`` as the prior (None: none): from the folder at once, from the
        cache once its folder is scanned, from the PACS once retrieved into the cache."""
        if candidate is None:
            self._set_prior(None)
            return
        if candidate.source == FOLDER:
            self._set_prior(study_from_scan(self.controller.scan, self._patient_key(), candidate.study_uid), candidate)
            return
        current = self.study
        self._status(f"Prior of {format_dicom_date(candidate.date)}: reading it from {candidate.source}…")
        node = self.pacs.panel.chosen_node() if candidate.source == PACS else None
        cache = self.pacs.panel.cache

        def job(cancelled):
            from hds_core.io import scan_folder

            folder = candidate.folder
            if candidate.source == PACS:
                if node is None:
                    raise RuntimeError("no PACS node is set")
                from hds_core.node import retrieve

                result = retrieve(node[0], node[1], candidate.study_uid, cache)
                if result.study is None:
                    raise RuntimeError("the PACS sent nothing for it")
                folder = result.study.folder
            return scan_folder(folder)

        def scanned(scan) -> None:
            if self.study is not current:
                return  # another study was opened meanwhile
            for patient_id, patient in scan.patients.items():
                if candidate.study_uid in patient.studies:
                    self._set_prior(study_from_scan(scan, patient_id, candidate.study_uid), candidate)
                    return
            self._problem(f"prior of {format_dicom_date(candidate.date)}: its folder holds no image of that study")

        def failed(exc: Exception) -> None:
            self._problem(f"prior of {format_dicom_date(candidate.date)} not read from {candidate.source}: {exc}")

        self.prior_worker.submit(job, scanned, failed)

    def _patient_key(self) -> str | None:
        return self.study.patient_id if self.study else None

    def _set_prior(self, prior, candidate=None) -> None:
        keys = self.controller.set_prior(prior)
        self.grid.set_prior(prior)
        self._refresh_prior_menu()
        self._update_title()
        self.browser.mark(self.study.study_uid if self.study else None, prior.study_uid if prior else None)
        if prior is not None:
            self._status(
                f"Compared with the prior of {format_dicom_date(prior.study_date)}"
                + (f" from {candidate.source}" if candidate is not None and candidate.source != FOLDER else "")
                + (f" ({candidate.mismatch}: check it is the same woman)" if candidate and candidate.mismatch else "")
            )
            visible = set(self.grid.visible_keys())
            order = [k for k in keys if k in visible] + [k for k in keys if k not in visible]
            self._decode([(key, prior.images[key].path) for key in order])
        self._show_lesion_rows()

    def _refresh_prior_menu(self) -> None:
        menu = getattr(self, "prior_menu", None)
        if menu is None:
            return
        from hds_core.priors import candidate_text

        menu.clear()
        shown = self.controller.prior.study_uid if self.controller.prior else None
        none = menu.addAction("No prior")
        none.setCheckable(True)
        none.setChecked(shown is None)
        none.triggered.connect(lambda: self.use_prior(None))
        for candidate in self.controller.prior_candidates:
            action = menu.addAction(candidate_text(candidate, format_dicom_date))
            action.setCheckable(True)
            action.setChecked(candidate.study_uid == shown)
            action.triggered.connect(lambda _=False, c=candidate: self.use_prior(c))
        if not self.controller.prior_candidates:
            menu.addAction("(no earlier study of this woman found)").setEnabled(False)
