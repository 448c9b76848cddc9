"""HDS engine: mammogram reading, the Hybrid Deep Supervision network, training,
evaluation and prediction. Never imports Qt (the viewer imports this, not the reverse)."""

__version__ = "0.1.0"
