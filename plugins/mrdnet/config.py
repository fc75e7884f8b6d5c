"""MRDNet hyper-parameters. Imports no framework: `zoo list` reads this module."""

from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveInt

from zoo import DenoiserConfig
from zoo.sdk.common import noise_map_field


class MRDNetConfig(DenoiserConfig):
    """Multi-scale residual dense network (Samsung, NTIRE 2020 real image denoising).

    Residual dense blocks whose local fusion also takes an ASPP branch (1x1, 3x3 atrous at two
    rates, image pooling), global feature fusion as in RDN, and a global image residual.
    """

    # -- width and depth
    num_features: int = Field(128, ge=4, description="Channels between blocks (the seed: 128).")
    num_blocks: int = Field(4, ge=1, description="Multi-scale residual dense blocks (MRDBs).")
    num_layers: int = Field(4, ge=1, description="Densely connected 3x3 convolutions per MRDB.")
    growth_rate: int = Field(64, ge=1, description="Channels each dense layer adds.")
    # -- multi-scale branch
    dilations: tuple[PositiveInt, PositiveInt] = Field(
        (6, 12), description="Atrous rates of the two dilated 3x3 convolutions in each ASPP."
    )
    image_pooling: Literal["global", "local", "none"] = Field(
        "global",
        description="ASPP's image-pooling branch: 'global' averages the whole map (as trained, so "
        "tiled and whole-image results differ), 'local' is test-time local pooling (TLC, arXiv "
        "2112.04491) over a window 1.5x the training patch, 'none' drops the branch.",
    )
    train_size: int = Field(
        256, ge=8, description="Training patch size in pixels; sets the 'local' pooling window."
    )
    noise_map: bool = noise_map_field()
    # -- training only
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout after each MRDB while training; none at inference."
    )

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {"num_features": 128, "num_blocks": 4, "num_layers": 4, "growth_rate": 64},
        "small": {"num_features": 64, "num_blocks": 3, "num_layers": 4, "growth_rate": 32},
        "tiny": {"num_features": 32, "num_blocks": 2, "num_layers": 3, "growth_rate": 16},
    }
    default_preset: ClassVar[str | None] = "small"

    @property
    def receptive_field(self) -> int:
        """Pixels of context the convolutions give each output pixel on each side.

        Two shallow and two final 3x3 convolutions add one each; a block adds the larger of its
        dense chain (one per layer) and its widest atrous 3x3 (the rate). The image-pooling branch
        reaches further (the whole map when 'global') and is not counted, as for MWRCANet's
        channel attention.
        """
        per_block = max(self.num_layers, *self.dilations)
        return 4 + self.num_blocks * per_block

    @property
    def pool_kernel(self) -> int | None:
        """Image-pooling window in pixels: None for global pooling (or no branch)."""
        from zoo.sdk.common import tlc_kernel

        return tlc_kernel(self.train_size, 1) if self.image_pooling == "local" else None

    @property
    def bytes_per_pixel(self) -> int:
        """Peak working memory per input pixel, for the engine's tile budget (float32 channels).

        A block holds its dense features and ASPP branches twice (pieces and concatenation), and
        global fusion every block's output twice; measured 11.8 KB per pixel at ``full`` and
        5.3 KB at ``small`` (both backends), against 12.3 KB and 5.6 KB from this formula.
        """
        f, branches = self.num_features, len(self.dilations) + 1 + int(self.image_pooling != "none")
        block = 2 * (f + self.num_layers * self.growth_rate + branches * f)
        return 4 * (block + 2 * self.num_blocks * f + 2 * f)
