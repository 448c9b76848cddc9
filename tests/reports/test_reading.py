"""The radiologist's read (issue 41): kept as it is made, restored after a kill between two
marks, final once signed, an addendum beside the signed version, one window at a time."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from hds_core.report.reading import AIMark, Mark, ReadingError, ReadingLock, ReadingStore

STUDY = "1.2.826.0.1.3680043.8.498.4141"


def mark(view="R CC", x=100.0, y=120.0) -> Mark:
    return Mark("1.2.3.4", view, x, y, third="middle", nipple_distance_mm=42.0, left_mm=-12.0)


def test_a_reading_is_kept_as_it_is_made_and_restored(tmp_path):
    store = ReadingStore(tmp_path)
    reading = store.open(STUDY, "P-1", model={"name": "hds_mammo", "weights_sha256": "ab" * 32})
    assert store.versions(STUDY) == []  # nothing saved until something is set
    reading.set(composition="c", impression="Dense breasts; a mass in the right breast.")
    reading.assess("R", "4B")
    reading.assess("L", "1")
    finding = reading.add_finding("mass", mark(), "R")
    reading.link_mark(finding.number, mark("R MLO", 90.0, 200.0))
    store.save(reading)
    again = ReadingStore(tmp_path).open(STUDY)
    assert again.composition == "c" and again.assessment == {"R": "4B", "L": "1"}
    assert again.exam == "4B" and again.recommended == "Tissue diagnosis"  # the breasts' most serious
    (kept,) = again.findings
    assert [m.view for m in kept.marks] == ["R CC", "R MLO"] and kept.marks[0].nipple_distance_mm == 42.0
    assert again.model["name"] == "hds_mammo"
    with pytest.raises(ReadingError, match="marked on R MLO already"):
        again.link_mark(kept.number, mark("R MLO"))
    with pytest.raises(ReadingError, match="not one of a, b, c, d"):
        again.set(composition="e")
    with pytest.raises(ReadingError, match="not an assessment category"):
        again.assess("L", "7")


def test_ai_marks_are_accepted_as_findings_or_dismissed_and_kept(tmp_path):
    reading = ReadingStore(tmp_path).open(STUDY)
    base = dict(image="1.2.3.4", view="L MLO", x=50.0, y=60.0, max_probability=0.91, threshold=0.5)
    accepted = reading.decide(AIMark(0, lesion=1, decision="accepted", **base))
    dismissed = reading.decide(AIMark(0, lesion=2, decision="dismissed", **base))
    (finding,) = reading.findings
    assert finding.source == "ai" and finding.ai_mark == accepted.number and finding.laterality == "L"
    assert accepted.finding == finding.number and dismissed.finding is None
    assert [m.decision for m in reading.ai_marks] == ["accepted", "dismissed"]
    reading.decide(AIMark(0, lesion=1, decision="dismissed", **base))  # she changes her mind
    assert reading.findings == [] and sorted(m.decision for m in reading.ai_marks) == ["dismissed", "dismissed"]


def test_signing_makes_it_final_and_an_addendum_keeps_both_versions(tmp_path):
    store = ReadingStore(tmp_path)
    reading = store.open(STUDY)
    reading.set(composition="b")
    with pytest.raises(ReadingError, match="still needs an assessment, the reader's name"):
        store.sign(reading)
    reading.assess("R", "2")
    store.sign(reading, reader="Dr A. Reader")
    assert reading.signed and reading.signed_at
    for change in (lambda: reading.set(impression="x"), lambda: reading.add_finding("mass", mark(), "R")):
        with pytest.raises(ReadingError, match="signed .* it is final"):
            change()
    addendum = store.addendum(reading)
    assert (addendum.version, addendum.amends, addendum.status) == (2, 1, "draft")
    addendum.set(impression="Addendum: the prior of 2024 was found; the asymmetry is stable.")
    store.save(addendum)
    first, second = store.versions(STUDY)
    assert first.signed and first.impression == "" and second.impression.startswith("Addendum")
    assert store.open(STUDY).version == 2


def test_two_windows_on_one_study_one_holds_the_reading(tmp_path):
    store = ReadingStore(tmp_path)
    first, second = ReadingLock(store, STUDY), ReadingLock(store, STUDY)
    assert first.held and not second.held
    first.release()
    assert ReadingLock(store, STUDY).held
    stale = store.open(STUDY)
    newer = store.addendum(store.sign(_complete(store.open(STUDY)), reader="Dr B"))
    assert newer.version == 2
    with pytest.raises(ReadingError, match="changed elsewhere"):
        store.save(stale)


def _complete(reading):
    reading.set(composition="a")
    reading.assess("L", "1")
    return reading


def test_the_reading_survives_a_kill_between_two_marks(tmp_path):
    """A reader's process killed (SIGKILL: no clean-up at all) after its first mark was made
    and before its second: reopened, the first mark is there and the file reads whole."""
    script = textwrap.dedent(f"""
        import sys, time
        from hds_core.report.reading import Mark, ReadingStore
        store = ReadingStore({str(tmp_path)!r})
        reading = store.open({STUDY!r})
        reading.add_finding("calcifications", Mark("1.2.3.4", "L CC", 10.0, 20.0), "L")
        store.save(reading)
        print("first mark saved", flush=True)
        time.sleep(60)  # killed here, before the second mark
        reading.add_finding("mass", Mark("1.2.3.4", "L MLO", 30.0, 40.0), "L")
        store.save(reading)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "first mark saved"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    reading = ReadingStore(tmp_path).open(STUDY)
    assert [(f.kind, f.marks[0].view) for f in reading.findings] == [("calcifications", "L CC")]
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_damaged_reading_file_is_named_and_left_alone(tmp_path):
    store = ReadingStore(tmp_path)
    store.path(STUDY).write_text("{ not json")
    with pytest.raises(ReadingError, match="cannot be read") as raised:
        store.open(STUDY)
    assert str(store.path(STUDY)) in str(raised.value)
    assert store.path(STUDY).read_text() == "{ not json"
