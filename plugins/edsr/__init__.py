"""EDSR adapted to denoising, with PyTorch and TensorFlow backends sharing one weight format."""

from zoo.sdk import bundled
from zoo import Architecture, hookimpl
from plugins.edsr.config import EDSRConfig


@hookimpl
def register_architectures(register):
    register(
        Architecture(
            name="edsr",
            description="EDSR residual trunk with a x2 pixel shuffle pooled back to size (seed's variant)",
            paper="Lim et al., Enhanced Deep Residual Networks for Single Image Super-Resolution, "
            "CVPRW 2017 (arXiv 1707.02921), adapted to denoising as in the seed article",
            config=EDSRConfig,
            backends={
                "torch": "plugins.edsr.torch_backend:build",
                "tensorflow": "plugins.edsr.tf_backend:build",
            },
            **bundled(__name__),
        )
    )
