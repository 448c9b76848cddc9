"""The engine never imports Qt (the viewer imports the engine, never the reverse)."""

import subprocess
import sys


def test_importing_hds_core_loads_no_qt():
    """Every module of the engine, imported: none brings Qt or the viewer."""
    code = (
        "import importlib, pkgutil, sys, hds_core, resources; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(hds_core.__path__, 'hds_core.')]; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6', "
        "'mammo_viewer')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_viewer_logic_modules_are_qt_free():
    # The reading room (hanging, the study, the reader's choices) and the screen rendering are
    # tested (and reusable) without Qt.
    code = (
        "import sys, mammo_viewer.reading.hanging, mammo_viewer.reading.study, "
        "mammo_viewer.reading.study_controller, mammo_viewer.reading.reading_state, mammo_viewer.pictures.display; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')]; print(bad); sys.exit(1 "
        "if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_layering_contracts_in_pyproject_hold():
    """import-linter's contracts (pyproject.toml): the engine never imports Qt or the viewer,
    io no other engine package, the network neither io nor data, inference never training."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert command, "lint-imports is missing: pip install -e '.[test]'"
    # --no-cache: a cached graph from before a change once hid a broken contract here.
    result = subprocess.run(
        [command, "--no-cache", str(root / "pyproject.toml")], capture_output=True, text=True, cwd=root
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_wrong_way_import_breaks_a_contract(tmp_path):
    """The checker is live: a contract the code does not keep (data imports io) is reported broken."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["hds_core"]\n\n[[tool.importlinter.contracts]]\n'
        'name = "data never reads files (it does)"\ntype = "forbidden"\nsource_modules = ["hds_core.data"]\n'
        'forbidden_modules = ["hds_core.io"]\n'
    )
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    result = subprocess.run([command, "--no-cache", str(config)], capture_output=True, text=True, cwd=root)
    assert result.returncode != 0 and "BROKEN" in result.stdout


def test_no_two_modules_import_each_other():
    """A pair of modules that import each other (even lazily, even for type checking) is one
    module in two files: the graph is the one import-linter checks the contracts on."""
    import grimp

    graph = grimp.build_graph(
        "hds_core", "mammo_viewer", "resources", exclude_type_checking_imports=False, cache_dir=None
    )
    pairs = sorted(
        {
            tuple(sorted((importer, imported)))
            for importer in graph.modules
            for imported in graph.find_modules_directly_imported_by(importer)
            if importer in graph.find_modules_directly_imported_by(imported)
        }
    )
    # A package's __init__ re-exporting its own modules is no cycle: the modules never import it back.
    assert pairs == [], pairs


def test_the_engine_has_no_entry_point_into_the_viewer():
    """hds-predict's PDF writer is handed over by the viewer package (mammo_viewer/headless.py);
    the engine looks nothing up in the viewer."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert "entry-points" not in project, project.get("entry-points")
    assert project["scripts"]["hds-predict"] == "mammo_viewer.headless:main"


def test_opening_the_window_and_asking_for_help_import_no_heavy_library():
    """Cold start: the window and the first films come before torch, scikit-image, SciPy and
    highdicom are imported (the engine imports torch on its own thread), and so does every
    command's --help; the DICOM node's libraries load when a node is first talked to."""
    code = (
        "import sys, mammo_viewer.app, mammo_viewer.main_window, mammo_viewer.work.decoding, mammo_viewer.headless, "
        "hds_core.commands.predict, hds_core.commands.node, hds_core.train.cli, hds_core.train.export_cli, "
        "hds_core.eval.cli; heavy = [m for m in ('torch', 'skimage', 'scipy', 'highdicom', 'pynetdicom', "
        "'dicomweb_client') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
