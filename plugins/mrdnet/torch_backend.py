"""MRDNet in PyTorch; its ``state_dict()`` is the canonical weight format."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.sdk.common import NOISE_MAP_CHANNELS
from zoo.sdk.torch_base import TorchDenoiser, local_mean
from plugins.mrdnet.config import MRDNetConfig


def conv(cin: int, cout: int, kernel: int = 3, dilation: int = 1) -> nn.Conv2d:
    """Stride-1 convolution that keeps the spatial size (zero padding, like Keras 'same')."""
    return nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation)


class ASPP(nn.Module):
    """Atrous spatial pyramid: 1x1, two atrous 3x3, and (optionally) image pooling, each + ReLU.

    Image pooling averages the whole map (``pool_kernel=None``) or, at test time, a local window
    (TLC); either way its 1x1 convolution sees the pooled features.

    Returns the branches concatenated (``out_channels``); the block's 1x1 fusion projects them,
    so ASPP has no projection of its own (two 1x1 convolutions in a row would be one).
    Canonical names: ``point``, ``atrous.0``, ``atrous.1``, ``pool``.
    """

    def __init__(self, config: MRDNetConfig) -> None:
        super().__init__()
        f, pooling = config.num_features, config.image_pooling != "none"
        self.point = conv(f, f, 1)
        self.atrous = nn.ModuleList([conv(f, f, 3, d) for d in config.dilations])
        self.pool = conv(f, f, 1) if pooling else None
        self.pool_kernel = config.pool_kernel
        self.out_channels = f * (len(config.dilations) + 1 + int(pooling))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [F.relu(self.point(x))] + [F.relu(a(x)) for a in self.atrous]
        if self.pool is not None:
            branches.append(self._image_pool(x))
        return torch.cat(branches, dim=1)

    def _image_pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool_kernel is not None:
            return F.relu(self.pool(local_mean(x, self.pool_kernel)))
        g = F.relu(self.pool(x.mean(dim=(2, 3), keepdim=True)))
        return g.expand_as(x)  # upsampling a 1x1 map is a broadcast


class MRDB(nn.Module):
    """Multi-scale residual dense block: RDB's dense 3x3 layers and an ASPP branch on the block
    input, fused by one 1x1 convolution, plus the block input (local residual).

    Canonical names: ``dense.{j}``, ``aspp.*``, ``fuse``.
    """

    def __init__(self, config: MRDNetConfig) -> None:
        super().__init__()
        f, g = config.num_features, config.growth_rate
        self.dense = nn.ModuleList([conv(f + j * g, g) for j in range(config.num_layers)])
        self.aspp = ASPP(config)
        self.fuse = conv(f + config.num_layers * g + self.aspp.out_channels, f, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.dense:
            feats.append(F.relu(layer(torch.cat(feats, dim=1))))
        return x + self.fuse(torch.cat(feats + [self.aspp(x)], dim=1))


class MRDNetModule(nn.Module):
    """sfe1 -> sfe2 -> MRDBs -> global fusion (1x1 over every block's output, then 3x3) + sfe1
    -> tail, plus the input image (global residual: the network predicts the negated noise).

    NCHW in [0, 1] in, same shape out. Canonical names: ``sfe1``, ``sfe2``, ``blocks.{i}.*``,
    ``gff_fuse``, ``gff_conv``, ``tail``. Dropout has no weights and is off in eval mode.
    """

    def __init__(self, config: MRDNetConfig) -> None:
        super().__init__()
        f = config.num_features
        self.noise_map = config.noise_map  # its planes follow the image's 3 channels into sfe1 only
        self.sfe1 = conv(3 + (NOISE_MAP_CHANNELS if config.noise_map else 0), f)
        self.sfe2 = conv(f, f)
        self.blocks = nn.ModuleList([MRDB(config) for _ in range(config.num_blocks)])
        self.dropout = nn.Dropout(config.dropout)
        self.gff_fuse = conv(config.num_blocks * f, f, 1)
        self.gff_conv = conv(f, f)
        self.tail = conv(f, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.sfe1(x)
        x = x[:, :3] if self.noise_map else x
        h, outs = self.sfe2(f1), []
        for block in self.blocks:
            h = self.dropout(block(h))
            outs.append(h)
        h = self.gff_conv(self.gff_fuse(torch.cat(outs, dim=1))) + f1
        return x + self.tail(h)


class MRDNetTorch(TorchDenoiser):
    """Receptive field and bytes per pixel come from the config (see Denoiser.CONFIG_METADATA)."""

    residual_ends = ("fuse",)  # an MRDB's branch ends here: zero = identity (zoo train --grow)


def build(config: MRDNetConfig) -> MRDNetTorch:
    return MRDNetTorch(config, MRDNetModule(config))
