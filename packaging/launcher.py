"""The bundled application's entry point.

mammo-viewer [PATH] [viewer options]      the reading workstation
mammo-viewer predict PATH [options]       the headless engine (same as hds-predict)
mammo-viewer node COMMAND [options]       the DICOM node (same as hds-node)
"""

import multiprocessing
import sys


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("predict", "hds-predict"):
        from mammo_viewer.headless import main as predict

        return predict(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] in ("node", "hds-node"):
        from hds_core.commands.node import main as node

        return node(sys.argv[2:])
    from mammo_viewer.app import leave
    from mammo_viewer.app import main as viewer

    return leave(viewer(sys.argv[1:]))


if __name__ == "__main__":
    # The viewer decodes films in processes started from this executable: in a frozen
    # bundle each such process must stop here and run its task instead of the app.
    multiprocessing.freeze_support()
    sys.exit(main())
