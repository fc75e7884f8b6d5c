"""EDSR-denoise in PyTorch; its ``state_dict()`` is the canonical weight format."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.sdk.common import NOISE_MAP_CHANNELS
from zoo.sdk.torch_base import TorchDenoiser
from plugins.edsr.config import EDSRConfig


def conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class ResBlock(nn.Module):
    """conv-ReLU-conv, its output scaled by ``res_scale`` before the skip (EDSR's stabiliser)."""

    def __init__(self, features: int, res_scale: float) -> None:
        super().__init__()
        self.conv1 = conv3x3(features, features)
        self.conv2 = conv3x3(features, features)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x))) * self.res_scale


class EDSRModule(nn.Module):
    """head -> residual blocks -> body_tail (+ head: long skip) -> upsample conv -> pixel shuffle x2
    -> 2x2 average pool -> tail, plus the input when ``global_residual``.

    NCHW in [0, 1] in, same shape out. Canonical names: ``head``, ``body.{i}.conv1/conv2``,
    ``body_tail``, ``upsample``, ``tail`` (each ``.weight``/``.bias``).
    """

    def __init__(self, config: EDSRConfig) -> None:
        super().__init__()
        f = config.num_features
        self.noise_map = config.noise_map  # its planes follow the image's 3 channels into the head only
        self.head = conv3x3(3 + (NOISE_MAP_CHANNELS if config.noise_map else 0), f)
        self.body = nn.Sequential(*[ResBlock(f, config.res_scale) for _ in range(config.num_blocks)])
        self.body_tail = conv3x3(f, f)
        self.upsample = conv3x3(f, 4 * f)
        self.tail = conv3x3(f, 3)
        self.global_residual = config.global_residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        x = x[:, :3] if self.noise_map else x
        h = h + self.body_tail(self.body(h))
        # The seed's detour: super-resolve x2, then average back to the input grid. Pooling each
        # 2x2 cell makes the output size exactly the input size, so any H and W work.
        u = F.avg_pool2d(F.pixel_shuffle(self.upsample(h), 2), 2)
        y = self.tail(u)
        return x + y if self.global_residual else y


class EDSRTorch(TorchDenoiser):
    """Receptive field and bytes per pixel come from the config (see Denoiser.CONFIG_METADATA)."""

    residual_ends = ("conv2",)  # a ResBlock's branch ends here: zero = identity (zoo train --grow)


def build(config: EDSRConfig) -> EDSRTorch:
    return EDSRTorch(config, EDSRModule(config))
