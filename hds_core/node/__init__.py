"""The workstation as a DICOM node: the nodes it talks to, the local study cache, finding and
retrieving studies (C-FIND, C-GET, C-MOVE), receiving them (a C-STORE listener) and sending
results back (C-STORE, STOW-RS). It moves files: it never runs the network or writes reports
(the commands compose those, hds_core/commands/node.py).

Names are imported on first use (pynetdicom only when a node is talked to)."""

from ..lazy import lazy_names

_HOME = {
    "NodeError": "errors",
    "Node": "nodes",
    "LocalNode": "nodes",
    "NodeBook": "nodes",
    "load_book": "nodes",
    "save_book": "nodes",
    "book_path": "nodes",
    "StudyCache": "cache",
    "CachedStudy": "cache",
    "StudyQuery": "scu",
    "StudyRecord": "scu",
    "echo": "scu",
    "find_studies": "scu",
    "retrieve": "scu",
    "send_files": "scu",
    "Listener": "receive",
}

__all__ = sorted(_HOME)
__getattr__ = lazy_names(__name__, _HOME)
