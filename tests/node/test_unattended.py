"""The unattended mode: each received study analysed once, even across a restart."""

import shutil
from pathlib import Path

import pydicom

from hds_core.commands.unattended import StudyAnalyst
from hds_core.node import LocalNode, StudyCache

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "DEMO-014"


def _receive(cache: StudyCache, uid: str, files):
    arrival = cache.arrival(uid)
    for path in files:
        sop = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        arrival.add(sop, lambda target, source=path: shutil.copy(source, target))
    return arrival.complete()


def test_a_study_is_analysed_once_and_again_only_when_it_changes(tmp_path):
    uid = str(pydicom.dcmread(DEMO / "L_MLO.dcm", stop_before_pixels=True).StudyInstanceUID)
    cache = StudyCache(tmp_path / "cache")
    study = _receive(cache, uid, [DEMO / "L_MLO.dcm"])
    analyst = StudyAnalyst(cache, None, LocalNode(), device="cpu")
    assert analyst.analyse(study)
    assert len(list((analyst.results_of(study) / "seg").glob("*.dcm"))) == 1
    assert len(list((analyst.results_of(study) / "sr").glob("*.dcm"))) == 1
    restarted = StudyAnalyst(cache, None, LocalNode(), device="cpu")
    restarted.catch_up()  # after a restart: nothing analysed twice
    assert analyst.runs == 1 and restarted.runs == 0
    newer = _receive(cache, uid, [DEMO / "R_MLO.dcm"])  # the other film arrives later
    restarted.catch_up()
    assert restarted.runs == 1 and restarted.done(newer)
    assert len(list((restarted.results_of(newer) / "seg").glob("*.dcm"))) == 2
