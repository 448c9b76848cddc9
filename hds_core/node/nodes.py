"""The DICOM nodes the workstation talks to, and its own: kept in one JSON file in the user's
settings folder, which the viewer's DICOM nodes dialog and ``hds-node`` both read and write.

A node is named on the command line as ``AET@host:port`` or by the name it has in the book."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .errors import NodeError

# DICOM PS3.5: an AE title is 1-16 characters of the default repertoire, no backslash or
# control characters; leading and trailing spaces are not significant.
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")
_INLINE = re.compile(r"^(?P<aet>[^@]{1,16})@(?P<host>\[[0-9a-fA-F:]+\]|[^:@\s]+):(?P<port>\d{1,5})$")
DEFAULT_AE_TITLE = "HDS_MAMMO"
DEFAULT_PORT = 11112
LOOPBACK = "127.0.0.1"
BOOK_ENV = "HDS_NODES"  # another node book than the user's (tests, a shared set-up)


def valid_ae_title(text: str) -> str:
    title = text.strip()
    if not _AE_TITLE.match(title):
        raise NodeError(
            f"{text!r} is not an AE title", fix="use 1-16 letters, digits, spaces or punctuation, no backslash"
        )
    return title


def valid_port(value: int | str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise NodeError(f"{value!r} is not a port number", fix="use a number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise NodeError(f"port {port} is out of range", fix="use a number from 1 to 65535")
    return port


@dataclass(frozen=True)
class Node:
    """A remote node: DIMSE (AE title, host, port) and, where it has one, a DICOMweb root URL
    (results are then sent with STOW-RS). ``tls``: the association runs over TLS."""

    name: str
    ae_title: str
    host: str
    port: int
    dicomweb_url: str = ""
    tls: bool = False
    tls_ca: str = ""  # a CA file for the node's certificate (default: the system's authorities)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", valid_ae_title(self.ae_title))
        object.__setattr__(self, "port", valid_port(self.port))
        if not self.host.strip():
            raise NodeError(f"node {self.name!r} has no host", fix="give a host name or an IP address")
        if self.dicomweb_url and not re.match(r"^https?://", self.dicomweb_url):
            raise NodeError(
                f"node {self.name!r}: {self.dicomweb_url!r} is not a DICOMweb URL", fix="use http://… or https://…"
            )

    @property
    def address(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.name if self.name == self.address else f"{self.name} ({self.address})"


@dataclass(frozen=True)
class LocalNode:
    """This workstation: the AE title it calls with and listens as, the port and address its
    listener binds (loopback unless told otherwise), and the calling AE titles it accepts
    (empty: only the nodes in the book)."""

    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    bind: str = LOOPBACK
    allow: tuple[str, ...] = ()
    tls_cert: str = ""  # the listener's certificate and key: it then speaks TLS only
    tls_key: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", valid_ae_title(self.ae_title))
        object.__setattr__(self, "port", valid_port(self.port))
        object.__setattr__(self, "allow", tuple(valid_ae_title(a) for a in self.allow))


@dataclass(frozen=True)
class NodeBook:
    local: LocalNode = field(default_factory=LocalNode)
    nodes: tuple[Node, ...] = ()

    def find(self, text: str) -> Node:
        """``AET@host:port``, or the name of a node in the book."""
        for node in self.nodes:
            if node.name == text:
                return node
        match = _INLINE.match(text.strip())
        if match:
            host = match["host"].strip("[]")
            return Node(name=text.strip(), ae_title=match["aet"], host=host, port=int(match["port"]))
        known = ", ".join(node.name for node in self.nodes) or "none yet"
        raise NodeError(
            f"no DICOM node {text!r}",
            fix=f"give AET@host:port or the name of a node in the book (known: {known})",
        )

    def with_node(self, node: Node) -> NodeBook:
        """The book with ``node`` added, or replacing the node of the same name."""
        kept = tuple(n for n in self.nodes if n.name != node.name)
        return replace(self, nodes=(*kept, node))

    def without(self, name: str) -> NodeBook:
        return replace(self, nodes=tuple(n for n in self.nodes if n.name != name))

    def to_document(self) -> dict:
        return {
            "local": {**asdict(self.local), "allow": list(self.local.allow)},
            "nodes": [asdict(n) for n in self.nodes],
        }

    @classmethod
    def from_document(cls, document: dict, source: str = "node book") -> NodeBook:
        try:
            local = LocalNode(
                **{**document.get("local", {}), "allow": tuple(document.get("local", {}).get("allow", ()))}
            )
            nodes = tuple(Node(**entry) for entry in document.get("nodes", []))
        except (TypeError, AttributeError) as exc:
            raise NodeError(f"{source}: not a node book ({exc})", fix="fix or remove the file") from None
        except NodeError as exc:
            raise NodeError(f"{source}: {exc}") from None
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            raise NodeError(f"{source}: two nodes share a name", fix="give each node its own name")
        return cls(local=local, nodes=nodes)


def book_path() -> Path:
    """The user's node book: $HDS_NODES, else dicom-nodes.json in the user's settings folder."""
    if os.environ.get(BOOK_ENV):
        return Path(os.environ[BOOK_ENV])
    import platformdirs

    return Path(platformdirs.user_config_dir("hds-mammo")) / "dicom-nodes.json"


def load_book(path: Path | None = None) -> NodeBook:
    """The node book at ``path`` (default :func:`book_path`); an empty one when there is none yet."""
    path = path or book_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return NodeBook()
    except OSError as exc:
        raise NodeError(
            f"{path}: cannot read the node book ({exc.strerror or exc})", fix="check its permissions"
        ) from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise NodeError(f"{path}: not JSON ({exc})", fix="fix or remove the file") from None
    if not isinstance(document, dict):
        raise NodeError(f"{path}: not a node book", fix="fix or remove the file")
    return NodeBook.from_document(document, str(path))


def save_book(book: NodeBook, path: Path | None = None) -> Path:
    from ..safe_write import atomic_write_text

    path = path or book_path()
    try:
        atomic_write_text(path, json.dumps(book.to_document(), indent=1) + "\n")
    except OSError as exc:
        raise NodeError(f"{path}: cannot save the node book ({exc.strerror or exc})", fix="check the folder") from None
    return path
