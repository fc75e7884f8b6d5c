"""EDSR-denoise hyper-parameters. Imports no framework: `zoo list` reads this module."""

from typing import Any, ClassVar

from pydantic import Field

from zoo import DenoiserConfig
from zoo.sdk.common import noise_map_field


class EDSRConfig(DenoiserConfig):
    """EDSR adapted to denoising: EDSR's trunk, a x2 pixel shuffle, a 2x2 average pool back down.

    The seed's full size is EDSR's full model (arXiv 1707.02921: 32 blocks of 256 features with
    residual scaling 0.1); ``small`` is EDSR's baseline width and depth, ``tiny`` a CPU preview.
    """

    # -- trunk
    num_features: int = Field(256, ge=4, description="Feature channels of every trunk convolution.")
    num_blocks: int = Field(32, ge=1, description="Residual blocks (conv-ReLU-conv) in the trunk.")
    res_scale: float = Field(
        0.1, gt=0.0, le=1.0, description="Residual scaling of each block's branch (EDSR: 0.1)."
    )
    noise_map: bool = noise_map_field()
    # -- output
    global_residual: bool = Field(
        True, description="Predict the noise and add the input back (a fix over the seed)."
    )

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {"num_features": 256, "num_blocks": 32, "res_scale": 0.1},
        "small": {"num_features": 64, "num_blocks": 16, "res_scale": 0.1},
        "tiny": {"num_features": 32, "num_blocks": 4, "res_scale": 0.1},
    }
    default_preset: ClassVar[str | None] = "small"

    @property
    def receptive_field(self) -> int:
        """Pixels of context each output pixel sees on each side.

        Head, trunk tail, upsampling and output convolutions are 3x3 (one pixel each), every
        block adds two; the pixel shuffle and the 2x2 pool map each input pixel onto itself.
        """
        return 2 * self.num_blocks + 4

    @property
    def bytes_per_pixel(self) -> int:
        """Peak working memory per input pixel, for the engine's tile budget.

        The x2 shuffle holds 4F channels twice (conv output and shuffled copy) next to the trunk's
        F; measured 9.2 KB (torch) and 10.2 KB (Keras) per pixel at ``full`` (F = 256).
        """
        return 48 * self.num_features
