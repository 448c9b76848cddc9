"""What a prediction can end in besides a result, without importing torch (the viewer
handles both before the engine has loaded): cancelled by the caller, or moved off CUDA."""

CUDA_FALLBACK = "CUDA failed"  # how the notice of a move to the CPU begins (the viewer looks for it)


class PredictionCancelled(Exception):  # noqa: N818 - a signal, not a fault
    """The caller's cancel check returned True; no result was produced."""
