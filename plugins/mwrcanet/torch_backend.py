"""MWRCANet in PyTorch. Module paths here are the canonical weight names (DESIGN.md section 3)."""

from __future__ import annotations

import torch
from torch import nn

from zoo.sdk.common import NOISE_MAP_CHANNELS
from zoo.sdk.torch_base import ChannelAttention, TorchDenoiser, haar_dwt, haar_iwt
from plugins.mwrcanet.config import MWRCANetConfig, pool_kernels


class RCABlock(nn.Module):
    """conv3x3, PReLU (alpha per channel, shared over space), conv1x1, channel attention, + x."""

    def __init__(self, c: int, reduction: int, pool: int | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.act = nn.PReLU(c)
        self.conv2 = nn.Conv2d(c, c, 1)
        self.ca = ChannelAttention(c, reduction, pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ca(self.conv2(self.act(self.conv1(x))))


class RCAGroup(nn.Module):
    """Blocks, then a 3x3 conv, around a group-level skip (as in RCAN and the NTIRE 2020 code)."""

    def __init__(self, c: int, n: int, reduction: int, pool: int | None) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[RCABlock(c, reduction, pool) for _ in range(n)])
        self.tail = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.tail(self.blocks(x))


class Down(nn.Module):
    """Encoder step on a DWT output: conv3x3, PReLU, then a group (if any)."""

    def __init__(self, cin: int, cout: int, group: RCAGroup | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.act = nn.PReLU(cout)
        self.group = group if group is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.group(self.act(self.conv(x)))


class Up(nn.Module):
    """Decoder step before an IWT: a group (if any), conv3x3 to 4x channels, PReLU (if any)."""

    def __init__(self, cin: int, cout: int, act: bool, group: RCAGroup | None = None) -> None:
        super().__init__()
        self.group = group if group is not None else nn.Identity()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.act = nn.PReLU(cout) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(self.group(x)))


class MWRCANet(nn.Module):
    """Three-level Haar wavelet U-Net; the input's DWT is added back before the last IWT.

    With ``noise_map`` the input has the map's planes after the ``colors`` image channels; their
    DWT joins the image's at the first convolution only (the residual is the image's alone).
    """

    def __init__(self, cfg: MWRCANetConfig, colors: int = 3) -> None:
        super().__init__()
        c1, c2, c3 = cfg.channels
        p1, p2, p3 = pool_kernels(cfg)
        group = lambda c, p: RCAGroup(c, cfg.blocks, cfg.reduction, p)  # noqa: E731
        self.colors, self.noise_map = colors, cfg.noise_map
        extra = 4 * NOISE_MAP_CHANNELS if cfg.noise_map else 0
        self.down1 = Down(4 * colors + extra, c1, group(c1, p1))
        self.down2 = Down(4 * c1, c2, group(c2, p2))
        self.down3 = Down(4 * c2, c3)
        self.middle = group(c3, p3)
        self.up3 = Up(c3, 4 * c2, act=True)
        self.up2 = Up(c2, 4 * c1, act=True, group=group(c2, p2))
        self.up1 = Up(c1, 4 * colors, act=False, group=group(c1, p1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.noise_map:
            x, level = x[:, : self.colors], x[:, self.colors :]
            w0 = haar_dwt(x)
            e1 = self.down1(torch.cat([w0, haar_dwt(level)], dim=1))
        else:
            w0 = haar_dwt(x)
            e1 = self.down1(w0)
        e2 = self.down2(haar_dwt(e1))
        m = self.middle(self.down3(haar_dwt(e2)))
        d2 = haar_iwt(self.up3(m)) + e2
        d1 = haar_iwt(self.up2(d2)) + e1
        return haar_iwt(self.up1(d1) + w0)


class MWRCANetTorch(TorchDenoiser):
    size_multiple = 8  # three DWT levels halve the size three times
    residual_ends = ("conv2",)  # an RCA block's branch ends here: zero = identity (zoo train --grow)


def build(config: MWRCANetConfig) -> MWRCANetTorch:
    denoiser = MWRCANetTorch(config, MWRCANet(config, colors=config.image_channels))
    return denoiser
