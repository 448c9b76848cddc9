"""The bundled application's entry point.

    mammo-viewer [PATH] [viewer options]      the reading workstation
    mammo-viewer predict PATH [options]       the headless engine (same as hds-predict)
"""

import sys


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("predict", "hds-predict"):
        from hds_core.infer.cli import main as predict

        return predict(sys.argv[2:])
    from mammo_viewer.app import main as viewer

    return viewer(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
