from typing import Literal

from pydantic import Field

from zoo import DenoiserConfig


class CBM3DConfig(DenoiserConfig):
    """CBM3D settings: the bm3d package's profile and colour transform."""

    profile: Literal["np", "refilter", "vn", "high", "deb"] = Field(
        "np", description="bm3d profile: 'np' normal, 'refilter' slightly better and slower."
    )
    colorspace: Literal["opp", "YCbCr"] = Field(
        "opp", description="Luma-chroma transform the colour channels are filtered in."
    )
