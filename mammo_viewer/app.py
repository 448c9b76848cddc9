"""mammo-viewer entry point: the reading workstation, or (with --screenshot) open, wait for
the analysis, save a picture of the window and exit."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from hds_core.commands.predict import spacing_mm

from . import __version__

log = logging.getLogger("mammo_viewer")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mammo-viewer", description="Mammography reading workstation with the HDS engine.")
    p.add_argument("path", nargs="?", help="a DICOM folder or a mammogram file (default: the bundled demo study)")
    p.add_argument("--screenshot", metavar="OUT.png", help="open PATH, wait for the analysis, save the window and exit")
    p.add_argument(
        "--hanging-json",
        metavar="OUT.json",
        help="with --screenshot: also write which image went to which viewport (SOP Instance UID, study date, "
        "laterality, view, current or prior, flips, mm per screen pixel)",
    )
    p.add_argument(
        "--protocol",
        metavar="NAME",
        help="hang by this hanging protocol (default: the first that applies; View > Hanging protocol lists them)",
    )
    p.add_argument("--stage", type=int, default=1, metavar="N", help="with --protocol: its stage N (from 1)")
    p.add_argument("--threshold", type=float, help="contour threshold (default: the model card's)")
    p.add_argument("--layout", type=int, choices=[4, 2, 1], help="4-up, 2-up or 1-up")
    p.add_argument(
        "--spacing",
        type=spacing_mm,
        help="pixel spacing in mm for images whose files carry none (scanned films; default: an estimate from "
        "the image size, said as such; AI > Pixel spacing sets it per study)",
    )
    p.add_argument("--weights", help="NAME.safetensors to use instead of the shipped weights")
    p.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--hide-phi", action="store_true", help="start with patient details hidden")
    p.add_argument("--version", action="version", version=f"mammo-viewer {__version__}")
    return p


def setup_logging() -> Path | None:
    """Log to the platform's user log folder; never patient names (only file paths and reasons)."""
    from PySide6.QtCore import QStandardPaths

    from hds_core.io.dicom import silence_pydicom_messages
    from hds_core.text import RotatingLog

    folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)) / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingLog(folder / "mammo-viewer.log")
    except OSError:
        silence_pydicom_messages()
        return None
    silence_pydicom_messages(handler)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    return folder


# What Qt's xcb platform plugin loads on Linux, by Debian/Ubuntu package. Without them Qt
# aborts with "could not load the Qt platform plugin xcb" and names the wrong package.
DESKTOP_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libxkbcommon.so.0": "libxkbcommon0",
}


def missing_desktop_packages() -> list[str]:
    """Debian packages whose libraries a window on an X11 desktop needs and this machine
    lacks (empty off Linux, offscreen, or when all are there)."""
    import ctypes
    import os

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if (
        not sys.platform.startswith("linux")
        or (platform and not platform.startswith("xcb"))
        or (not platform and os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"))
    ):
        return []
    missing = []
    for library, package in DESKTOP_LIBRARIES.items():
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append(package)
    return missing


def no_display() -> bool:
    """True on Linux when Qt would try to open a window and there is nowhere to open it: Qt
    then aborts the process (SIGABRT) naming a library that is in fact installed."""
    import os

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    return (
        sys.platform.startswith("linux")
        and (not platform or platform.startswith(("xcb", "wayland")))
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )


NO_DISPLAY = """mammo-viewer: no display: this machine has no desktop to open a window on (DISPLAY is not set).
  a window over ssh:    ssh -X this-machine, then mammo-viewer
  a virtual screen:     xvfb-run -a mammo-viewer PATH   (apt-get install xvfb)
  a screenshot only:    mammo-viewer PATH --screenshot OUT.png   (works without a display)
  the analysis only:    hds-predict PATH --pdf report.pdf"""


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.hanging_json and not args.screenshot:
        p.error("--hanging-json is written with --screenshot (the hanging once the study has settled)")
    if args.protocol and args.layout:
        p.error("--protocol and --layout both say how to hang the study: give one")
    if args.stage < 1:
        p.error("--stage counts from 1")
    if no_display():
        if not args.screenshot:
            print(NO_DISPLAY, file=sys.stderr)
            return 2
        import os

        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    missing = missing_desktop_packages()
    if missing:
        print(
            "mammo-viewer: error: a window needs system libraries this machine lacks; install them with\n"
            f"  sudo apt-get install {' '.join(missing)}\n"
            "(or run offscreen: QT_QPA_PLATFORM=offscreen mammo-viewer PATH --screenshot OUT.png)",
            file=sys.stderr,
        )
        return 2
    from .memory import return_large_blocks_to_the_system

    return_large_blocks_to_the_system()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("mammo-viewer")
    app.setOrganizationName("mammo-hds")
    from resources import app_icon

    if app_icon() is not None:
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(app_icon())))
    setup_logging()
    # A screenshot run must not depend on (or change) the user's saved settings.
    # Its folder goes when the run ends: it holds the folder paths the run opened.
    scratch = tempfile.TemporaryDirectory(prefix="mammo-viewer-") if args.screenshot else None
    try:
        return _run_window(app, args, scratch)
    finally:
        if scratch is not None:
            scratch.cleanup()


def chosen_protocol(name: str, stage: int):
    """The hanging protocol ``--protocol NAME --stage N`` names (the shipped and the reader's
    own), or None after saying why there is none."""
    from hds_core.text import printable
    from resources import default_protocols

    from .reading.protocols import ProtocolError, find, load_protocols
    from .session.priors import protocols_folder

    try:
        protocol = find(load_protocols(default_protocols(), protocols_folder())[0], name)
    except ProtocolError as exc:
        print(f"mammo-viewer: error: --protocol {printable(name)}: {exc.problem}; {exc.fix}", file=sys.stderr)
        return None
    if stage > len(protocol.stages):
        print(
            f"mammo-viewer: error: --stage {stage}: {protocol.name!r} has {len(protocol.stages)} stage(s)",
            file=sys.stderr,
        )
        return None
    return protocol


def _run_window(app, args, scratch) -> int:
    from PySide6.QtCore import QSettings, QTimer

    from hds_core.text import printable

    from .main_window import MainWindow

    protocol = None
    if args.protocol:  # checked before any window or worker starts: a wrong name is said and nothing runs
        protocol = chosen_protocol(args.protocol, args.stage)
        if protocol is None:
            return 2
    settings = QSettings(str(Path(scratch.name) / "settings.ini"), QSettings.Format.IniFormat) if scratch else None
    window = MainWindow(weights=args.weights, device=args.device, settings=settings)
    window.default_spacing = args.spacing
    if args.hide_phi:
        window.phi_action.setChecked(True)
    if args.layout:
        window.set_layout(args.layout)
    if protocol is not None:
        window.hang_with(protocol, args.stage - 1)
    from resources import demo_study

    path = args.path or demo_study()
    outcome = {"code": 0}
    if args.screenshot:
        window.resize(1600, 1000)

        def shoot() -> None:
            problem = window.controller.scan is None or not window.controller.scan.images
            if problem:
                # There is no window to look at: say it all here, the path once.
                message = window.statusBar().currentMessage().replace(", see Problems", "")
                if not message.startswith(str(path)):
                    message = f"{path}: {message}"
                print(f"mammo-viewer: error: cannot read {printable(message)}", file=sys.stderr)
                for failure in (window.controller.scan.failures if window.controller.scan else [])[:30]:
                    print(f"mammo-viewer: {printable(str(failure))}", file=sys.stderr)
                outcome["code"] = 2
            else:
                if args.threshold is not None:
                    window.state.threshold = args.threshold
                app.processEvents()
                if not window.grab().save(args.screenshot):
                    print(f"mammo-viewer: error: cannot write {args.screenshot}", file=sys.stderr)
                    outcome["code"] = 2
                else:
                    print(f"mammo-viewer: saved {args.screenshot}", file=sys.stderr)
                if args.hanging_json:
                    try:
                        text = json.dumps(window.grid.hanging_description(), indent=1) + "\n"
                        Path(args.hanging_json).write_text(text, encoding="utf-8")
                        print(f"mammo-viewer: saved {args.hanging_json}", file=sys.stderr)
                    except OSError as exc:
                        print(f"mammo-viewer: error: cannot write {args.hanging_json}: {exc.strerror}", file=sys.stderr)
                        outcome["code"] = 2
            window.close()
            app.quit()

        window.study_settled.connect(lambda: QTimer.singleShot(300, shoot))
    elif args.threshold is not None:
        window.engine.ready.connect(lambda _p: setattr(window.state, "threshold", args.threshold))
    if path:
        window.open_path(str(path))
    elif args.screenshot:
        print("mammo-viewer: error: no PATH and no bundled demo study", file=sys.stderr)
        return 2
    window.show()
    code = app.exec()
    if settings is not None:
        settings.sync()
        del window, settings  # Qt lets go of the file before its folder is removed
    return outcome["code"] if args.screenshot else code


def leave(code: int) -> int:
    """Exit status for the process; called once the application has finished.

    A daemon thread can still be inside native code at this point (torch loading the weights
    when the window was closed right after start). Finalising the interpreter under it aborts
    the process ("terminate called without an active exception", measured when closing
    during start-up). Our own work is finished or abandoned by then, so leave without
    finalising, after flushing what we wrote."""
    import os
    import threading

    if any(thread.daemon and thread.is_alive() for thread in threading.enumerate()):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def run() -> None:
    """The ``mammo-viewer`` command."""
    sys.exit(leave(main()))


if __name__ == "__main__":
    run()
