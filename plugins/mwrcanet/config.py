"""MWRCANet hyper-parameters and presets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zoo import DenoiserConfig
from zoo.sdk.common import noise_map_field


class MWRCANetConfig(DenoiserConfig):
    """Multi-level Wavelet Residual Channel Attention Network: three Haar DWT levels with residual
    channel-attention groups, IWT back up, and a global residual.

    ``full`` is the seed's size; ``small`` and ``tiny`` are practical on a CPU; ``medium`` is
    small's widths at full's depth (1.7x small's compute), so it can be grown from small's weights
    (``zoo train --grow``: the new blocks start as identities).
    """

    presets = {
        "full": {"channels": (64, 256, 512), "blocks": 4},
        "medium": {"channels": (32, 64, 128), "blocks": 4},
        "small": {"channels": (32, 64, 128), "blocks": 2},
        "tiny": {"channels": (16, 32, 64), "blocks": 1},
    }
    default_preset = "small"

    # -- image
    image_channels: Literal[1, 3] = Field(
        3, description="3: RGB in, RGB out. 1: one network denoises each colour channel separately "
        "(the seed's further-work idea: three times the training data per photo)."
    )
    # -- width and depth
    channels: tuple[int, int, int] = Field(
        (64, 256, 512), description="Feature channels at wavelet levels 1, 2 and 3 (1/2, 1/4, 1/8 size)."
    )
    noise_map: bool = noise_map_field()
    blocks: int = Field(4, ge=1, le=64, description="Residual channel-attention blocks per group.")
    reduction: int = Field(4, ge=1, description="Channel-attention reduction ratio.")
    # -- channel attention pooling
    attention_pooling: Literal["global", "local"] = Field(
        "global",
        description="'global' pools each map whole (as trained); 'local' is test-time local "
        "pooling (TLC, arXiv 2112.04491) over a window 1.5x the training patch.",
    )
    train_size: int = Field(
        256, ge=8, description="Training patch size in pixels; sets the 'local' pooling window."
    )

    @property
    def receptive_field(self) -> int:
        """Radius in input pixels of the convolutions' reach (global attention pooling reaches
        further). Each 3x3 convolution at a level of scale s adds s pixels; a group is ``blocks``
        + 1 of them. The levels' DWT/IWT blocks add at most one coarsest cell (8 pixels) of
        misalignment."""
        group = self.blocks + 1
        s1, s2, s3 = LEVEL_SCALES
        down = s1 * (1 + group) + s2 * (1 + group) + s3 * (1 + group)
        up = s3 * 1 + s2 * (group + 1) + s1 * (group + 1)
        return down + up + s3

    @property
    def bytes_per_pixel(self) -> int:
        """Peak working memory per input pixel, for the engine's tile budget.

        Level l holds ``channels[l] / 4**l`` floats per input pixel; counted three times (block
        input, residual branch, attention product) plus 192 bytes for the image in and out and
        the DWT/IWT copies. Measured peak growth per pixel (torch, 768x768): tiny 207, small 344,
        full 572 bytes, against 276, 360 and 672 from this formula (Keras: small 265, full 391).
        """
        floats = sum(c / 4**level for level, c in enumerate(self.channels, start=1))
        return int(192 + 3 * 4 * floats)

    @model_validator(mode="after")
    def _positive(self) -> MWRCANetConfig:
        if min(self.channels) < 1:
            raise ValueError("channels must be positive")
        if self.reduction > min(self.channels):
            raise ValueError("reduction must not exceed the narrowest level's channels")
        return self


LEVEL_SCALES = (2, 4, 8)  # input pixels per feature pixel at wavelet levels 1, 2, 3


def pool_kernels(config: MWRCANetConfig) -> tuple[int | None, int | None, int | None]:
    """Channel-attention pooling window per level: None = global, else the TLC window."""
    from zoo.sdk.common import tlc_kernel

    if config.attention_pooling == "global":
        return (None, None, None)
    return tuple(tlc_kernel(config.train_size, s) for s in LEVEL_SCALES)  # type: ignore[return-value]
