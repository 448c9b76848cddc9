"""PySide6 mammography reading workstation. Imports hds_core; hds_core never imports this."""

from hds_core import __version__

__all__ = ["__version__"]
