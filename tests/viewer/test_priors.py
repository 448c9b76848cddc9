"""Current and prior (issue 39, points 2, 3, 5, 7): a synthetic woman screened three times
over four years opens at her latest study hung beside the one before it, at one physical
size, linked, analysed current first; the mass she gained is flagged new since the prior on
screen and in the report; a name that disagrees is shown, never merged; every default
protocol's hanging is written as JSON, with a prior and without."""

import json

import pytest
from conftest import run_viewer, viewer_on
from woman import DATES, write_study, write_woman

from mammo_viewer.reading.protocols import read_protocols
from resources import default_protocols

SETTLE_MS = 120000


@pytest.fixture
def woman(tmp_path):
    return write_woman(tmp_path / "woman")


@pytest.fixture
def own_protocols(tmp_path, monkeypatch):
    folder = tmp_path / "protocols"
    folder.mkdir()
    monkeypatch.setenv("MAMMO_VIEWER_PROTOCOLS", str(folder))
    return folder


def _mm_per_pixel(view) -> float:
    return view.spacing_mm[1] / (view.scale_factor * view.devicePixelRatioF())


def test_her_latest_study_opens_beside_the_one_before_at_one_size_and_linked(
    qtbot, woman, phantom_model, tmp_path, own_protocols
):
    from pdf_text import pdf_text

    window = viewer_on(qtbot, phantom_model, woman, tmp_path)
    qtbot.waitUntil(
        lambda: window.controller.prior and len(window.controller.prior.predicted()) == 4, timeout=SETTLE_MS
    )
    assert window.study.study_date == DATES[-1] and window.controller.prior.study_date == DATES[1]
    assert [c.date for c in window.controller.prior_candidates] == [DATES[1], DATES[0]]
    hanging = window.grid.hanging_description()
    assert hanging["protocol"] == "8-up current + prior" and hanging["prior"]["study_date"] == DATES[1]
    assert sorted((v["study"], v["label"]) for v in hanging["viewports"]) == sorted(
        (study, f"{side} {view}") for study in ("current", "prior") for side in "RL" for view in ("CC", "MLO")
    )
    # One physical size for the eight, chest walls of each pair meeting.
    views = [v for v in window.views if v.isVisible() and v.key]
    assert len(views) == 8
    sizes = [_mm_per_pixel(v) for v in views]
    assert max(sizes) == pytest.approx(min(sizes), rel=1e-4)
    studies = window.browser.topLevelItem(0)
    assert [studies.child(i).text(0) for i in range(3)] == [
        "2022-03-15 screening (4 images)",
        "2024-03-20 screening (4 images) · prior",
        "2026-03-18 screening (4 images) · on screen",
    ]
    prior_titles = [v.title for v in views if "prior" in v.title]
    assert len(prior_titles) == 4 and all(t.endswith("prior 2024-03-20") for t in prior_titles)
    # The window moves on the current right CC and on the prior's with it.
    keys = {(p.study, p.label): p.key for p in window.grid.hanging.placements}
    before = window.state.windows[keys[("prior", "R CC")]]
    window.grid._on_window_drag(keys[("current", "R CC")], 40, 0)
    assert window.state.windows[keys[("prior", "R CC")]] != before
    assert window.state.windows[keys[("prior", "L CC")]] == window.state.windows[keys[("prior", "L CC")]]
    # New since the prior: the right CC's mass, in the table and in the report.
    rows = window.findings.rows
    assert [(r.view, r.new_since) for r in rows] == [("R CC", DATES[1])]
    assert not window.findings.lesions.isColumnHidden(4)
    assert window.findings.lesions.item(0, 4).text() == "new since 2024-03-20"
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as said:
        window.export_report_to(str(tmp_path / "report.pdf"))
    assert said.args[0].startswith("Report written"), said.args
    text = pdf_text(tmp_path / "report.pdf")
    assert "Compared with the prior study of 2024-03-20." in text and "new since 2024-03-20" in text
    # Her findings go on the current study: a click on the prior's view marks nothing.
    from test_reading_panel import click_on_image

    prior_cc = next(v for v in views if v.key == keys[("prior", "R CC")])
    window.mark_finding()
    click_on_image(qtbot, prior_cc, 60.0, 60.0)
    assert window.reading.findings == [] and "is of the prior study" in window.statusBar().currentMessage()
    # Space steps the screening read on: each view against the prior, then the current alone.
    stages = []
    for _ in range(4):
        window.turn_page(1)
        stages.append((window.grid.hanging.protocol, window.grid.hanging.stage))
    assert [s[0] for s in stages] == [
        "current vs prior CC",
        "current vs prior MLO",
        "4-up current",
        "single views by breast",
    ]
    # The reader picks the oldest study instead.
    window.use_prior(window.controller.prior_candidates[1])
    assert window.controller.prior.study_date == DATES[0]
    window.close()


def test_a_finding_the_prior_had_is_not_new_and_a_study_without_prior_says_so(
    qtbot, phantom_model, tmp_path, own_protocols
):
    from pdf_text import pdf_text

    both = tmp_path / "both"
    for date in DATES[1:]:
        write_study(both / date, date, mass_in=(("R", "CC"),))
    window = viewer_on(qtbot, phantom_model, both, tmp_path)
    qtbot.waitUntil(
        lambda: window.controller.prior and len(window.controller.prior.predicted()) == 4, timeout=SETTLE_MS
    )
    assert [(r.view, r.new_since) for r in window.findings.rows] == [("R CC", None)]
    window.close()

    alone = tmp_path / "alone"
    write_study(alone, DATES[-1], mass_in=(("R", "CC"),))
    window = viewer_on(qtbot, phantom_model, alone, tmp_path / "second")
    assert window.controller.prior is None and window.grid.hanging.protocol == "4-up current"
    assert window.findings.lesions.isColumnHidden(4)
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS):
        window.export_report_to(str(tmp_path / "alone.pdf"))
    assert "No prior available: read without comparison." in pdf_text(tmp_path / "alone.pdf")
    window.close()


def test_a_name_that_disagrees_is_shown_and_never_hung_by_default(qtbot, phantom_model, tmp_path, own_protocols):
    folder = tmp_path / "mixed"
    write_study(folder / "now", DATES[-1])
    write_study(folder / "then", DATES[1], identity={"PatientName": "Someone^Else"})
    window = viewer_on(qtbot, phantom_model, folder, tmp_path)
    problems = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert window.controller.prior is None and window.grid.hanging.protocol == "4-up current"
    assert any("one patient ID, but a different name" in p for p in problems)  # the scan's own check
    assert any("has this patient ID but the name differs: not hung as the prior" in p for p in problems)
    texts = [a.text() for a in window.prior_menu.actions()]
    assert any("the name differs, check before comparing" in t for t in texts)
    (candidate,) = window.controller.prior_candidates
    window.use_prior(candidate)  # the reader's choice: hung, and the status says what to check
    assert window.controller.prior is not None and "check it is the same woman" in window.statusBar().currentMessage()
    window.close()


def test_a_broken_protocol_file_of_the_readers_is_named_in_problems(qtbot, phantom_model, tmp_path, own_protocols):
    (own_protocols / "mine.toml").write_text('[[protocol]]\nname = "mine"\nstages = 2\n', encoding="utf-8")
    from PySide6.QtCore import QSettings

    from mammo_viewer.main_window import MainWindow

    window = MainWindow(load_engine=False, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    problems = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert problems == [
        f"hanging protocol not used: {own_protocols / 'mine.toml'}:3: protocol 1, field 'stages': unknown field "
        "for a protocol (the fields are: dimension, modality, name, priors, stage, views)"
    ]
    assert len(window.grid.protocols) == len(read_protocols(default_protocols()))  # the defaults still hang studies
    window.close()


# The 2-D ones: her studies are 2-D (the DBT protocols hang stacks: tests/viewer/test_dbt_viewer.py).
PROTOCOLS = [p.name for p in read_protocols(default_protocols()) if p.dimension != "DBT"]


@pytest.mark.parametrize("name", PROTOCOLS)
def test_every_default_protocol_hangs_a_study_with_its_prior_and_one_without(name, woman, tmp_path, phantom_model):
    protocol = next(p for p in read_protocols(default_protocols()) if p.name == name)
    stage = len(protocol.stages)  # the last stage (the single views: L MLO)
    for folder, with_prior in ((woman, True), (woman / DATES[-1], False)):
        out = tmp_path / f"hanging-{with_prior}.json"
        run = run_viewer(
            folder, "--weights", phantom_model, "--device", "cpu", "--protocol", name, "--stage", stage,
            "--screenshot", tmp_path / "shot.png", "--hanging-json", out,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        hanging = json.loads(out.read_text())
        assert (hanging["protocol"], hanging["stage"]) == (name, stage)
        viewports = hanging["viewports"]
        wanted = [v for v in protocol.stages[-1].viewports if with_prior or v.study == "current"]
        assert sorted((v["study"], v["label"]) for v in viewports) == sorted(
            (v.study, f"{v.laterality} {v.view}") for v in wanted
        )
        dates = {v["study"]: v["study_date"] for v in viewports}
        assert dates.get("current", DATES[-1]) == DATES[-1] and dates.get("prior", DATES[1]) == DATES[1]
        assert (hanging["prior"] is not None) == with_prior
        assert all(v["sop_instance_uid"] and v["mm_per_screen_pixel"] for v in viewports)
        for link in {v["link"] for v in viewports}:  # a linked group's views at one size
            sizes = [v["mm_per_screen_pixel"] for v in viewports if v["link"] == link]
            assert max(sizes) == pytest.approx(min(sizes), rel=1e-4)


def test_a_protocol_or_stage_that_does_not_exist_is_refused(woman, tmp_path):
    refused = run_viewer(woman, "--protocol", "9-up", "--screenshot", tmp_path / "x.png")
    assert refused.returncode == 2 and "no hanging protocol of that name" in refused.stderr
    refused = run_viewer(woman, "--protocol", "4-up current", "--stage", "3", "--screenshot", tmp_path / "x.png")
    assert refused.returncode == 2 and "'4-up current' has 1 stage(s)" in refused.stderr
