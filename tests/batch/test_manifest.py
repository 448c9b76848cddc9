"""hds-batch's manifest (no Ray needed): one row per study and patient, named as hds-predict
names its results; a CSV without its column is named with the fault."""

import pytest
from synthetic import phantom, write_dicom

from hds_core.batch.manifest import ManifestError, from_paths
from hds_core.report.naming import output_names


def test_two_women_under_one_study_uid_are_two_rows_and_names_are_hds_predicts(tmp_path):
    folder = tmp_path / "clash"
    folder.mkdir()
    for index, (patient, side) in enumerate((("W-1", "R"), ("W-2", "L"))):
        pixels, _ = phantom((128, 96), seed=index)
        write_dicom(
            folder / f"{side}_CC.dcm",
            pixels,
            StudyInstanceUID="1.2.826.0.1.3680043.8.498.4299",
            PatientID=patient,
            PatientName=f"Woman^{patient}",
            ImageLaterality=side,
            ViewPosition="CC",
        )
    (folder / "README.md").write_text("notes")
    manifest = from_paths([folder])
    assert len(manifest.studies) == 2 and manifest.failures == [] and manifest.skipped == {}
    assert [len(study.paths) for study in manifest.studies] == [1, 1]
    assert len({study.label for study in manifest.studies}) == 2
    names = output_names([(p, None) for p in sorted(folder.glob("*.dcm"))])
    assert {name for study in manifest.studies for name in study.names.values()} == set(names.values())


def test_a_csv_without_a_path_column_is_named(tmp_path):
    csv = tmp_path / "list.csv"
    csv.write_text("file\nx.dcm\n")
    with pytest.raises(ManifestError, match="list.csv: a manifest CSV needs a 'path' column"):
        from_paths([csv])
