"""Run every benchmark, each in its own process (peak memory is per process), and write one
table of all their figures with the machine they came from.

    .venv/bin/python tests/benchmarks/run_all.py [--out tests/benchmarks/results] [--quick]

Writes OUT/latest.md and OUT/latest.json; with --update-readme also the table in the
README's Performance section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from record import describe, machine  # noqa: E402

README_START, README_END = "<!-- performance table: run_all.py --update-readme -->", "<!-- end of performance table -->"

BENCHMARKS = [
    # (script, arguments, arguments with --quick)
    ("bench_predictor.py", ["--repeats", "5"], ["--repeats", "1"]),
    ("bench_viewer.py", ["--repeats", "20"], ["--repeats", "3"]),
    ("bench_end_to_end.py", ["--repeats", "2"], ["--repeats", "1", "--scan-files", "10"]),
    ("bench_decoding.py", [], []),
    ("bench_pacs.py", ["--repeats", "3"], ["--repeats", "1"]),
    ("bench_dbt.py", ["--passes", "2"], ["--passes", "1"]),
    ("bench_batch.py", ["--studies", "60"], ["--studies", "12"]),
]


def fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "x" or unit == "":
        text = f"{value:.3f}" if unit == "x" else f"{value:.4f}"  # 1.204x must not read as 1.20x
        return text + ("×" if unit == "x" else "")
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.2f} {unit}"


def table(rows: list[dict]) -> str:
    lines = ["| benchmark | measure | value | target |", "|---|---|---|---|"]
    for row in rows:
        target = row["target"]
        if row["met"] is True:
            target += " ✓"
        elif row["met"] is False:
            target += " **not met**"
        measure = row["measure"] + (f" ({row['note']})" if row["note"] else "")
        lines.append(f"| {row['benchmark']} | {measure} | {fmt(row['value'], row['unit'])} | {target} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument(
        "--quick", action="store_true", help="fewer repeats: checks that everything runs, not for the record"
    )
    p.add_argument("--weights", help="weights for every benchmark (default: the shipped ones)")
    p.add_argument(
        "--update-readme", action="store_true", help="also put the table into README.md between its performance markers"
    )
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(f"machine: {describe(info)}", flush=True)
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    rows: list[dict] = []
    failed = []
    started = time.perf_counter()
    for script, normal, quick in BENCHMARKS:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            rows_file = Path(handle.name)
        command = [sys.executable, str(HERE / script), *(quick if args.quick else normal), "--json", str(rows_file)]
        if args.weights:
            command += ["--weights", args.weights]
        print(f"\n$ {shlex.join(command[1:])}", flush=True)
        run = subprocess.run(command, env=env)
        if run.returncode != 0:
            failed.append(script)
        elif rows_file.stat().st_size:
            rows += json.loads(rows_file.read_text())
        rows_file.unlink(missing_ok=True)
    command = "python tests/benchmarks/run_all.py" + (" --quick" if args.quick else "")
    header = (
        f"Measured {dt.date.today().isoformat()} at commit {info['commit'] or '?'} with `{command}` "
        f"({time.perf_counter() - started:.0f} s) on: {describe(info)}."
    )
    document = header + "\n\n" + table(rows) + "\n"
    if failed:
        document += f"\nFailed to run: {', '.join(failed)}\n"
    (out / "latest.md").write_text(document)
    (out / "latest.json").write_text(json.dumps({"machine": info, "command": command, "rows": rows}, indent=1) + "\n")
    print("\n" + document)
    print(f"written: {out / 'latest.md'}, {out / 'latest.json'}")
    if args.update_readme and not args.quick:
        readme = HERE.parents[1] / "README.md"
        text = readme.read_text()
        start, end = text.index(README_START) + len(README_START), text.index(README_END)
        readme.write_text(text[:start] + "\n" + document + text[end:])
        print(f"updated: {readme}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
