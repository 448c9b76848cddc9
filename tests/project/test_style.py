"""One style, checked as the layering is: `ruff format` and `ruff check` (pyproject.toml's
[tool.ruff]) pass on the whole tree, and the checker is live."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ruff() -> str:
    command = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert command, "ruff is missing: pip install -e '.[test]'"
    return command


def test_the_code_is_formatted():
    result = subprocess.run([_ruff(), "format", "--check", "."], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"run `ruff format .`:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"


def test_the_linter_passes():
    result = subprocess.run([_ruff(), "check", "."], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_linter_is_live(tmp_path):
    """The project's rules find a blind except without its reason and an unused import."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\ntry:\n    pass\nexcept Exception:\n    pass\n")
    result = subprocess.run(
        [_ruff(), "check", "--config", str(ROOT / "pyproject.toml"), str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "F401" in result.stdout and "BLE001" in result.stdout, result.stdout
