"""Weight-free classical baselines, so comparisons run inside the zoo."""

from zoo import Architecture, hookimpl
from plugins.classical.config import CBM3DConfig


@hookimpl
def register_architectures(register):
    register(
        Architecture(
            name="cbm3d",
            aliases=("bm3d",),
            description="Colour BM3D (bm3d package); sigma from --sigma or estimated from the image",
            paper="Dabov et al., Color image denoising via sparse 3D collaborative filtering, ICIP 2007",
            config=CBM3DConfig,
            backends={"numpy": "plugins.classical.cbm3d:build"},
            requires=("bm3d", "skimage"),
            needs_weights=False,
        )
    )
