"""Samsung's MRDNet (NTIRE 2020), with PyTorch and TensorFlow backends sharing one weight format."""

from zoo.sdk import bundled
from zoo import Architecture, hookimpl
from plugins.mrdnet.config import MRDNetConfig


@hookimpl
def register_architectures(register):
    register(
        Architecture(
            name="mrdnet",
            aliases=("samsung_mrdnet", "mrdn"),
            description="Multi-scale residual dense network: RDN blocks with an ASPP branch (rates 6, 12)",
            paper="Bao et al., Real Image Denoising Based on Multi-Scale Residual Dense Block and "
            "Cascaded U-Net with Block-Connection, CVPRW 2020; NTIRE 2020 Challenge on Real Image "
            "Denoising report, Abdelhamed et al. (arXiv 2005.04117), team Samsung_SLSI_MSL",
            config=MRDNetConfig,
            backends={
                "torch": "plugins.mrdnet.torch_backend:build",
                "tensorflow": "plugins.mrdnet.tf_backend:build",
            },
            **bundled(__name__),
        )
    )
