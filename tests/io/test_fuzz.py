"""A seeded fuzz campaign over synthetic MG files (``fuzz.py``): through the library, every
file is a result or a typed refusal; through hds-predict with every report, no traceback,
no crash status, every file accounted for by name, no patient and no control character on
the terminal, inputs untouched, nothing written outside the output folders, memory bounded.

A larger range by hand: ``cd tests && python fuzz.py --seeds 0-2000``."""

import hashlib
import os
import re
import subprocess
import sys

import pytest
from fuzz import KINDS, mutant

from hds_core.infer import NotAMammogramError, Predictor
from hds_core.io import MammoReadError, read_image, scan_folder
from hds_core.report.naming import output_names
from hds_core.text import printable

SEEDS = range(0, 10 * len(KINDS))  # ten of each kind
# The engine's process holds torch, the weights and one small image at a time.
MAX_RSS_MB = 1500


@pytest.fixture(scope="module")
def mutants(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "in"
    folder.mkdir()
    return folder, dict(mutant(seed, folder) for seed in SEEDS)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the values we damaged
def test_every_mutant_is_a_result_or_a_typed_refusal(mutants):
    folder, made = mutants
    predictor = Predictor(device="cpu")
    outcomes = {"result": 0, "refused": 0, "not analysed": 0}
    for path, what in made.items():
        try:
            scan = scan_folder(path)
            if scan.failures:
                assert all(isinstance(f, MammoReadError) and printable(path.name) in str(f) for f in scan.failures), (
                    what
                )
                outcomes["refused"] += 1
                continue
            predictor.predict(read_image(path))
            outcomes["result"] += 1
        except MammoReadError as exc:
            assert printable(path.name) in str(exc), what
            outcomes["refused"] += 1
        except NotAMammogramError:
            outcomes["not analysed"] += 1
    # The campaign must exercise both sides: damage the reader refuses, and damage it reads past.
    assert outcomes["result"] >= 10 and outcomes["refused"] >= 10, outcomes


def test_hds_predict_accounts_for_every_mutant_without_a_traceback(mutants, tmp_path):
    folder, made = mutants
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_STATE_HOME": str(tmp_path / "state")}
    measured = (
        "import resource, sys; from mammo_viewer.headless import main; code = main(sys.argv[1:]); "
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            measured,
            str(folder),
            "--out",
            str(out / "json"),
            "--seg-dir",
            str(out / "seg"),
            "--sr-dir",
            str(out / "sr"),
            "--pdf",
            str(out / "report.pdf"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        env=env,
        timeout=900,
    )
    said = run.stderr
    assert run.returncode in (0, 1), said[-3000:]
    assert "Traceback" not in said and "internal error" not in said
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", said), "a raw control character reached the terminal"
    for secret in ("Phantom", "PHANTOM-1", "SMITH"):
        assert secret not in said
    log = next((tmp_path / "state").rglob("hds-predict.log")).read_text(errors="replace")
    # Nothing from a file forges a log line or reaches it raw, the libraries' warnings included.
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", log), "a raw control character reached the log"
    forged = [line for line in log.splitlines() if line.startswith("2026-01-01 INFO forged")]
    assert not forged, forged[:3]
    assert "disagree on the patient" in said  # the clashing studies are reported apart, and said
    results = {p.name for p in (out / "json").iterdir()}
    # Each file's result would carry its own name (clashing names get a UID added: a prefix then).
    names = output_names([(path, None) for path in made])
    for path in made:
        shown = printable(path.name)
        has_result = any(r.startswith(names[path].removesuffix(".json")) for r in results)
        assert shown in log or has_result, f"{shown}: no result, no reason"
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "state"]
    rss_mb = int(re.search(r"MAXRSS (\d+)", said).group(1)) / 1024
    assert rss_mb < MAX_RSS_MB, f"peak memory {rss_mb:.0f} MB"
