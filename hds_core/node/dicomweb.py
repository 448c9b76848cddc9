"""Sending results to a DICOMweb server (STOW-RS, dicomweb-client)."""

from __future__ import annotations

from pathlib import Path

from .errors import NodeError
from .nodes import Node


def store_instances(node: Node, paths: list[Path]) -> int:
    """STOW-RS of each file to ``node.dicomweb_url``; returns how many were stored."""
    import requests
    from dicomweb_client.api import DICOMwebClient
    from pydicom import dcmread

    datasets = [dcmread(path) for path in paths]
    client = DICOMwebClient(url=node.dicomweb_url.rstrip("/"))
    try:
        response = client.store_instances(datasets=datasets)
    except requests.exceptions.ConnectionError:
        raise NodeError(f"{node}: no DICOMweb server answers at {node.dicomweb_url}", fix="check the URL") from None
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        raise NodeError(
            f"{node}: STOW-RS refused the results (HTTP {code})", fix="check the URL and the server's log"
        ) from None
    failed = response.get("00081198", {}).get("Value", []) if response else []
    if failed:
        raise NodeError(f"{node}: STOW-RS stored {len(datasets) - len(failed)} of {len(datasets)}", fix="see its log")
    return len(datasets)
