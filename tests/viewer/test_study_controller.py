"""The study controller without a widget: scan -> study -> decode order -> analysis queue ->
results kept while the folder is open -> settled, and the window title with and without
patient details."""

import pytest
from synthetic import phantom, write_dicom

from hds_core.io import read_image, scan_folder
from mammo_viewer.reading.study_controller import APP_NAME, StudyController

STUDY = "1.2.826.0.1.3680043.8.498.777"


@pytest.fixture
def opened(tmp_path):
    """A controller showing a study of four MG views and one CT slice (displayed, never scored)."""
    for side, view, seed in (("R", "CC", 1), ("L", "CC", 2), ("R", "MLO", 3), ("L", "MLO", 4)):
        pixels, _ = phantom((96, 64), seed=seed)
        write_dicom(
            tmp_path / f"{side}_{view}.dcm",
            pixels,
            ImageLaterality=side,
            ViewPosition=view,
            StudyInstanceUID=STUDY,
            PatientName="Doe^Jane",
            PatientBirthDate="19600102",
            StudyDate="20260101",
        )
    pixels, _ = phantom((96, 64), seed=5)
    write_dicom(
        tmp_path / "ct.dcm", pixels, Modality="CT", SOPClassUID="1.2.840.10008.5.1.4.1.1.2", StudyInstanceUID=STUDY
    )
    controller = StudyController()
    controller.opening()
    controller.scan = scan_folder(tmp_path)
    patient = next(iter(controller.scan.patients.values()))
    study = controller.show(patient.patient_id, next(iter(patient.studies)))
    return controller, study


def key_of(study, name):
    return next(k for k in study.images if k.endswith(name))


def test_visible_views_decode_first_and_analysis_waits_for_them(opened):
    controller, study = opened
    visible = [key_of(study, "R_CC.dcm"), key_of(study, "L_CC.dcm")]
    order = controller.decode_order(visible)
    assert order[:2] == visible and sorted(order) == sorted(study.images) and controller.pending_decode == 5
    # An off-screen image decodes first: nothing is analysed until the views on screen are in.
    off = key_of(study, "R_MLO.dcm")
    controller.decoded(off, read_image(study.images[off].path), False)
    assert controller.to_analyse(visible) == ([], [])
    for key in visible:
        controller.decoded(key, read_image(study.images[key].path), False)
    ready, skipped = controller.to_analyse(visible)
    assert {item.key for item in ready} == {off, *visible} and not skipped
    assert controller.to_analyse(visible) == ([], [])  # each image is handed over once
    # The CT slice: decoded and shown, never handed to the engine.
    ct = key_of(study, "ct.dcm")
    controller.decoded(ct, read_image(study.images[ct].path), False)
    ready, skipped = controller.to_analyse(visible)
    assert not ready and [s.key for s in skipped] == [ct] and study.images[ct].not_analysed
    assert controller.pending_decode == 1
    assert controller.decoded("not-in-this-study", None, None) is None and controller.pending_decode == 1


def test_results_are_kept_compared_and_restored_and_the_study_settles_once(opened):
    controller, study = opened
    keys = list(study.images)
    controller.decode_order(keys)
    for key in keys[:-1]:
        controller.decoded(key, read_image(study.images[key].path), False)
    controller.decode_failed(keys[-1], "broken file")
    assert study.images[keys[-1]].error == "broken file"
    assert not controller.settle(analysing=True)  # decoded, still analysing
    compared = []
    assert controller.predicted(keys[0], "prediction-0", compare_breasts=compared.append)
    assert compared == [["prediction-0"]]  # every kept result is re-scored as results arrive
    assert (
        controller.idle_text(None) == "1 image(s) analysed" and controller.idle_text("no weights") == "AI not available"
    )
    assert controller.settle(analysing=False) and not controller.settle(analysing=False)  # once
    # Showing the study again (another study was shown meanwhile) restores the result: no rerun.
    patient = next(iter(controller.scan.patients.values()))
    again = controller.show(patient.patient_id, study.study_uid)
    assert again is not study and again.images[keys[0]].prediction is None
    controller.decode_order(keys)
    restored = controller.decoded(keys[0], read_image(again.images[keys[0]].path), False)
    assert restored.prediction == "prediction-0"
    assert (
        controller.predict_failed(keys[1], "out of memory")
        and again.images[keys[1]].error == "AI failed: out of memory"
    )


def test_a_failed_scan_settles_and_the_title_hides_patient_details():
    controller = StudyController()
    assert not controller.settle(analysing=False)  # nothing opened: nothing to settle
    controller.opening()
    assert controller.settle(analysing=False, failed="no such folder")
    assert controller.title(False) == APP_NAME


def test_title_names_the_patient_unless_hidden(opened):
    controller, _ = opened
    assert controller.title(False).startswith("Doe Jane, PHANTOM-1, born 1960-01-02 — 2026-01-01")
    hidden = controller.title(True)
    assert "Doe" not in hidden and "PHANTOM-1" not in hidden and hidden.startswith("patient details hidden")
    controller.clear()
    assert controller.study is None and not controller.predictions and controller.title(False) == APP_NAME


def test_the_study_browser_alone_lists_hides_names_and_chooses_studies(opened, qtbot):
    """The browser widget on its own: patient -> study -> image rows, "Patient N" while details
    are hidden, and a click on another study's row asks for that study (not the one shown)."""
    from mammo_viewer.panels.study_browser import StudyBrowser

    controller, study = opened
    browser = StudyBrowser(96)
    qtbot.addWidget(browser)
    browser.fill(controller.scan)
    assert browser.texts() == ["Doe Jane — PHANTOM-1"]
    browser.set_hide_phi(True)
    assert browser.texts() == ["Patient 1"]
    image_row = browser.topLevelItem(0).child(0).child(0)
    with qtbot.waitSignal(browser.study_chosen) as chosen:
        browser.choose(image_row)
    assert chosen.args == [study.patient_id, study.study_uid]
    browser.current = (study.patient_id, study.study_uid)
    with qtbot.assertNotEmitted(browser.study_chosen):
        browser.choose(image_row)  # already on screen: nothing to do


def test_the_prior_is_decoded_after_and_analysed_after_the_current_study(tmp_path):
    """Issue 39: the engine takes the current study first; the prior's images join the queue
    only once every current image is in (decoded or failed), whichever decodes first."""
    from woman import DATES, write_study

    from mammo_viewer.reading.study import study_from_scan

    for date in DATES[1:]:
        write_study(tmp_path / date, date)
    controller = StudyController()
    controller.opening()
    controller.scan = scan_folder(tmp_path)
    patient = next(iter(controller.scan.patients.values()))
    latest = next(uid for uid, s in patient.studies.items() if s.date == DATES[-1])
    study = controller.show(patient.patient_id, latest)
    assert [c.date for c in controller.prior_candidates] == [DATES[1]]
    order = controller.decode_order(list(study.images))
    prior_keys = controller.set_prior(
        study_from_scan(controller.scan, patient.patient_id, controller.prior_candidates[0].study_uid)
    )
    assert controller.pending_decode == len(order) + len(prior_keys) == 8
    for key in prior_keys:  # the prior's films happen to decode first
        controller.decoded(key, read_image(controller.image(key).path), False)
    first = order[0]
    controller.decoded(first, read_image(study.images[first].path), False)
    ready, _ = controller.to_analyse([])
    assert [item.key for item in ready] == [first]  # the prior waits for the rest of the current study
    for key in order[1:]:
        controller.decoded(key, read_image(study.images[key].path), False)
    ready, _ = controller.to_analyse([])
    assert [item.key for item in ready] == order[1:] + prior_keys
    assert controller.pending_decode == 0
    # Another prior replaces it: nothing of the first is waited for any longer.
    controller.set_prior(None)
    assert controller.prior is None and controller.new_since_prior(0.5) == {}
