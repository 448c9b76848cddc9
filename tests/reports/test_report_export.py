"""The one export (hds_core/report/export.py) on its own: what each replacement rule allows,
names that never collide across studies, input folders never written into, and a PDF asked
for without a writer said as a failure, not a crash."""

import pytest
from synthetic import phantom, write_dicom

from hds_core.infer import Predictor
from hds_core.io import read_image
from hds_core.report.export import ANY, NEVER, SAME_STUDY, ExportTargets, export_results


def _study(folder, uid: str, seed: int):
    folder.mkdir(parents=True)
    paths = []
    for i, side in enumerate("RL"):
        pixels, _ = phantom((192, 144), seed=seed + i, mass=i == 0, chest_wall="right" if side == "R" else "left")
        paths.append(
            write_dicom(
                folder / f"{side}_CC.dcm",
                pixels,
                ImagerPixelSpacing=[0.4, 0.4],
                ImageLaterality=side,
                ViewPosition="CC",
                StudyInstanceUID=uid,
            )
        )
    return paths


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, phantom_model):
    """Two studies whose folders share a name: their reports must not."""
    root = tmp_path_factory.mktemp("studies")
    predictor = Predictor(phantom_model, device="cpu")
    triples = []
    for n, uid in enumerate(("1.2.826.0.1.3680043.8.498.201", "1.2.826.0.1.3680043.8.498.202")):
        for path in _study(root / f"site{n}" / "STUDY", uid, 600 + 10 * n):
            image = read_image(path)
            triples.append((path, image, predictor.predict(image)))
    return root, triples


def test_each_study_and_image_gets_its_own_files(analysed, tmp_path):
    root, triples = analysed
    targets = ExportTargets(seg_dir=tmp_path / "seg", sr_dir=tmp_path / "sr")
    outcome = export_results(triples, 0.5, targets)
    assert outcome.failures == []
    srs = sorted(p.name for p in (tmp_path / "sr").iterdir())
    segs = sorted(p.name for p in (tmp_path / "seg").iterdir())
    # Per study, the TID 1500 SR and the Mammography CAD SR.
    assert len(srs) == 4 and len(set(srs)) == 4 and all(name.startswith("STUDY-") for name in srs)
    assert len([name for name in srs if name.endswith("_cad_sr.dcm")]) == 2
    assert len(segs) == 4 and len(set(segs)) == 4
    assert sorted(p.name for p in outcome.written) == sorted(srs + segs)


def test_the_replacement_rules(analysed, tmp_path):
    _, triples = analysed
    first = [t for t in triples if t[0].parent.parent.name == "site0"]
    other = [t for t in triples if t[0].parent.parent.name == "site1"]
    targets = ExportTargets(sr_dir=tmp_path)
    assert export_results(first, 0.5, targets).failures == []
    written = sorted(tmp_path.iterdir())
    assert len(written) == 2  # the study's TID 1500 SR and CAD SR
    again = export_results(first, 0.5, targets)  # NEVER: an existing file is refused
    assert len(again.failures) == 2 and all("exists already" in failure for failure in again.failures)
    same = export_results(first, 0.5, ExportTargets(sr_dir=tmp_path, replace=SAME_STUDY))
    assert same.failures == [] and sorted(same.written) == written
    # Another study's reports under the very names: SAME_STUDY refuses them, ANY (the reader
    # chose this file in a dialog) replaces them.
    others = sorted(export_results(other, 0.5, ExportTargets(sr_dir=tmp_path / "o")).written)
    for mine, theirs in zip(written, others, strict=True):  # "<label>_cad_sr.dcm", "<label>_sr.dcm"
        mine.unlink()
        theirs.rename(mine)
    refused = export_results(first, 0.5, ExportTargets(sr_dir=tmp_path, replace=SAME_STUDY))
    assert len(refused.failures) == 2 and not refused.written
    assert all("of another study" in failure for failure in refused.failures)
    chosen = export_results(first, 0.5, ExportTargets(sr_dir=tmp_path, replace=ANY))
    assert chosen.failures == [] and sorted(chosen.written) == written
    assert NEVER == ExportTargets().replace


def test_nothing_is_written_inside_an_input_folder_and_a_missing_pdf_writer_is_a_failure(analysed, tmp_path):
    root, triples = analysed
    inside = export_results(triples, 0.5, ExportTargets(sr_dir=root / "sr"), never_inside=[root])
    assert len(inside.failures) == 1 and "inside an input folder" in inside.failures[0]
    assert not (root / "sr").exists()
    pdf = export_results(triples[:2], 0.5, ExportTargets(pdf=tmp_path / "r.pdf"))
    assert not pdf.written and len(pdf.failures) == 1 and "PDF not written" in pdf.failures[0]


def test_the_pdf_writer_is_called_once_per_study_with_the_studys_trust_line(analysed, tmp_path):
    _, triples = analysed
    calls = []

    def writer(pairs, threshold, out, **options):
        calls.append((len(pairs), out.name, options))
        out.write_bytes(b"%PDF-1.4\n")
        return out

    lines = []
    outcome = export_results(
        triples, 0.4, ExportTargets(pdf=tmp_path / "r.pdf", anonymize=True), pdf_writer=writer, on_written=lines.append
    )
    assert outcome.failures == [] and len(calls) == 2 and len(lines) == 2
    assert {count for count, _, _ in calls} == {2} and len({name for _, name, _ in calls}) == 2
    assert all(options["anonymize"] and not options["force"] for _, _, options in calls)
