"""New since the prior (hds_core.findings.comparison, hds_core.priors): places compared in the
breast's own frame, and the woman's earlier studies found with her identity checked."""

import numpy as np
import pytest

from hds_core.findings.comparison import breast_position
from hds_core.network_input import Geometry
from hds_core.network_input.working import preprocess
from hds_core.priors import CacheIndex, default_prior, earlier, identity_mismatch, priors_in_scan


def _geometry(**changes) -> Geometry:
    base = {
        "original_shape": (400, 300),
        "crop": (50, 350, 0, 200),
        "scale": (0.5, 0.5),
        "flipped": False,
        "working_shape": (150, 100),
        "working_spacing_mm": 0.8,
        "spacing_assumed": False,
        "nipple_rc": (75.0, 99.0),
    }
    return Geometry(**{**base, **changes})


def _at(geometry: Geometry, row: float, col: float, **options) -> tuple[float, float]:
    """breast_position of the original pixel that is working pixel (row, col)."""
    ((y, x),) = geometry.working_to_original(np.array([[row, col]]))
    return breast_position(geometry, x, y, **options)


def test_a_place_in_the_breast_survives_another_crop_scale_and_side():
    here = _geometry()
    # The nipple is (0, 0); the chest wall one breast depth behind it.
    assert _at(here, 75, 99) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert _at(here, 75, 0)[0] == pytest.approx(1.0, abs=1e-6)
    # The same breast two years on: cropped elsewhere, at other pixels, stored mirrored, and
    # compressed a fifth deeper: the same place in it is the same place.
    later = _geometry(
        original_shape=(900, 700),
        crop=(100, 700, 100, 580),
        scale=(0.3, 0.25),
        flipped=True,
        working_shape=(180, 120),
        nipple_rc=(90.0, 118.8),
    )
    before = _at(here, 50, 40)
    assert _at(later, 90 + (50 - 75) * 1.2, 118.8 - (99 - 40) * 1.2) == pytest.approx(before, abs=1e-6)
    assert before[0] == pytest.approx(59 / 99) and before[1] == pytest.approx(-25 / 99)
    # Stored upside down: the offset across the breast turns round, the depth does not.
    assert _at(here, 50, 40, flip_vertical=True) == pytest.approx((before[0], -before[1]))


def test_the_nipple_is_the_breasts_farthest_point_from_the_chest_wall():
    values = np.zeros((200, 160), np.float32)
    rows, cols = np.mgrid[0:200, 0:160]
    values[((rows - 120) / 70.0) ** 2 + (cols / 110.0) ** 2 <= 1] = 1000  # nipple at row 120, column ~110
    geometry = preprocess(values / 1000, (0.8, 0.8), working_spacing_mm=0.8).geometry
    nipple_row, nipple_col = geometry.nipple_rc
    assert abs(nipple_row - (120 - geometry.crop[0] * geometry.scale[0])) <= 3
    assert nipple_col == pytest.approx(geometry.working_shape[1] - 1, abs=8)


def test_identity_and_dates():
    me = ("W-1", "", "DOE^JANE", "19600101")
    assert identity_mismatch(me, ("W-1", "", "Doe^Jane", "19600101")) is None
    assert identity_mismatch(me, ("W-1", "", "DOE^JOAN", "19600101")) == "the name differs"
    assert identity_mismatch(me, ("W-1", "", "DOE^JANE", "19610101")) == "the birth date differs"
    assert identity_mismatch(("W-1", "HOSP-A", "", ""), ("W-1", "HOSP-B", "", "")).startswith("patient ID issued by")
    assert identity_mismatch(me, ("W-1", "", "", "")) is None  # a blank says nothing
    assert earlier("20240101", "20260101") and not earlier("20260101", "20240101")
    assert not earlier(None, "20260101") and not earlier("2024", "20260101")


def test_the_womans_earlier_studies_in_a_folder_and_in_the_cache(tmp_path):
    from woman import DATES, write_study

    from hds_core.io import scan_folder
    from hds_core.node import StudyCache

    for date in DATES:
        write_study(tmp_path / "folder" / date, date)
    # A fourth study under her ID but another name: a candidate said as such, never the default.
    write_study(tmp_path / "folder" / "other", "20250101", identity={"PatientName": "Other^Woman"})
    scan = scan_folder(tmp_path / "folder")
    (patient,) = scan.patients.values()
    latest = next(uid for uid, s in patient.studies.items() if s.date == DATES[-1])
    found = priors_in_scan(scan, patient.patient_id, latest)
    assert sorted(c.date for c in found) == ["20220315", "20240320", "20250101"]
    assert [c.mismatch for c in found if c.date == "20250101"] == ["the name differs"]
    assert default_prior(found).date == "20240320"
    first = next(uid for uid, s in patient.studies.items() if s.date == DATES[0])
    assert priors_in_scan(scan, patient.patient_id, first) == []  # nothing came before the first

    cache = StudyCache(tmp_path / "cache")
    for date in DATES[:2]:
        arrival = cache.arrival(next(uid for uid, s in patient.studies.items() if s.date == date))
        for image in next(s for s in patient.studies.values() if s.date == date).images:
            arrival.add(
                image.metadata.sop_instance_uid, lambda target, src=image.path: target.write_bytes(src.read_bytes())
            )
        arrival.complete()
    identity = patient.studies[latest].images[0].metadata.patient_identity
    cached = CacheIndex(cache).priors(identity, latest, DATES[-1])
    assert sorted(c.date for c in cached) == list(DATES[:2]) and all(c.folder.is_dir() for c in cached)
    assert CacheIndex(cache).priors(("SOMEONE-ELSE", "", "", ""), latest, DATES[-1]) == []
