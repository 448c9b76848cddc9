"""The network's shape (:class:`HDSConfig`), without torch: the weights' JSON is read and
checked (spec.py) by commands and the viewer before, or without, importing the network."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# The widths of EfficientNet-Lite0's stage outputs at strides 2-32 (efficientnet_lite.py).
EFFICIENTNET_SKIP_WIDTHS = (16, 24, 40, 112, 320)

ENCODERS = ("residual", "efficientnet-lite0")


@dataclass
class HDSConfig:
    """Network shape. The defaults are the published model."""

    encoder_widths: tuple[int, ...] = (16, 32, 64, 128, 128)
    bottleneck_width: int = 128
    decoder_widths: tuple[int, ...] = (128, 128, 64, 32, 16)
    blocks_per_stage: int = 2
    outer_dropout: float = 0.2  # the outer three stages at each end
    inner_dropout: float = 0.5
    outer_stages: int = 3
    upsampler: str = "bilinear"
    in_channels: int = 1
    num_classes: int = 2
    mil_cell: int = 128  # input pixels covered by one MIL instance (cell) along each side
    # residual (the paper's; encoder_widths apply) or efficientnet-lite0 (its own widths).
    encoder: str = "residual"

    def __post_init__(self):
        self.encoder_widths = tuple(self.encoder_widths)
        self.decoder_widths = tuple(self.decoder_widths)
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if len(self.skip_widths) != len(self.decoder_widths):
            raise ValueError(
                f"decoder_widths must have {len(self.skip_widths)} entries, one per encoder skip "
                f"(the U-Net's depth), got {len(self.decoder_widths)}"
            )
        if self.mil_cell < 2**self.depth or self.mil_cell & (self.mil_cell - 1):
            raise ValueError(f"mil_cell must be a power of two >= {2**self.depth}, got {self.mil_cell}")

    @property
    def depth(self) -> int:
        return len(self.decoder_widths)

    @property
    def skip_widths(self) -> tuple[int, ...]:
        """Widths of the encoder features the decoder fuses, finest (stride 1) first."""
        if self.encoder == "efficientnet-lite0":
            return (self.in_channels, *EFFICIENTNET_SKIP_WIDTHS[:-1])
        return self.encoder_widths

    @property
    def encoder_out_width(self) -> int:
        """Width of the encoder's deepest output, which enters the bottleneck (the residual
        encoder's last pooling step projects to the bottleneck's width)."""
        return EFFICIENTNET_SKIP_WIDTHS[-1] if self.encoder == "efficientnet-lite0" else self.bottleneck_width

    @property
    def num_exits(self) -> int:
        return self.depth + 1

    @property
    def size_multiple(self) -> int:
        return 2**self.depth

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> HDSConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown network settings: {sorted(unknown)}")
        return cls(**data)
