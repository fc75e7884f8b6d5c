"""MWRCANet (NTIRE 2020 real image denoising): Haar wavelet U-Net with residual channel attention."""

from plugins.mwrcanet.config import MWRCANetConfig
from zoo.sdk import bundled
from zoo import Architecture, hookimpl


@hookimpl
def register_architectures(register):
    register(
        Architecture(
            name="mwrcanet",
            description="Multi-level wavelet residual channel-attention network (3 Haar levels)",
            paper="Cao et al., NTIRE 2020 real image denoising challenge (MWRCANet), CVPRW 2020",
            config=MWRCANetConfig,
            backends={
                "torch": "plugins.mwrcanet.torch_backend:build",
                "tensorflow": "plugins.mwrcanet.tf_backend:build",
            },
            **bundled(__name__),
        )
    )
