"""The one error a DICOM node raises: what failed, with which node, and what to check."""

from __future__ import annotations


class NodeError(Exception):
    """A node that does not answer, refuses us or returns a failure status; a node book or a
    node address that cannot be read. The message names the node and says what to check."""

    def __init__(self, message: str, *, fix: str = "") -> None:
        super().__init__(f"{message}: {fix}" if fix else message)
        self.fix = fix
