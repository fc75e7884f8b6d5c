"""PyTorch backend base: ``TorchDenoiser`` and blocks shared by the built-in architectures.

How to write a torch backend
----------------------------
Build an ``nn.Module`` that maps an NCHW float32 tensor in [0, 1] to the same shape, and wrap it::

    class EDSRTorch(TorchDenoiser):
        size_multiple = 1
        receptive_field = 40

    def build(config):
        return EDSRTorch(config, EDSRModule(config))

Models that take a noise level set ``takes_sigma = True`` and override
:meth:`TorchDenoiser.run_module`, which then always gets sigma on the 0-255 scale (given, or
estimated once per image: see :mod:`zoo.sdk.sigma`); tensors made there belong on ``x.device``,
since ``zoo train --device cuda`` moves the module to a GPU.

The module's own ``state_dict()`` *is* the canonical format : names are the
module paths (``body.0.conv1.weight``), layouts are PyTorch's (conv OIHW, linear (out, in),
PReLU (C,)). So keep parameter-free operations (DWT, pooling, pixel shuffle) free of
``nn.Parameter``/persistent buffers: anything in the torch state dict must exist in the Keras model.

Threads are left to torch's defaults (the caller, e.g. a benchmark, may set them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo.sdk.common import NOISE_MAP_CHANNELS, check_state, noise_level, uses_noise_map
from zoo.sdk.sigma import EstimatesSigma
from registry.config import DenoiserConfig
from registry.denoiser import PRECISIONS, Denoiser


class TorchDenoiser(EstimatesSigma, Denoiser):
    """A Denoiser around an ``nn.Module`` working on NCHW float32 tensors.

    NHWC numpy batches are viewed as NCHW through a permute, which yields a channels-last strided
    tensor with no copy; the module is kept channels-last too because 3x3 convolutions run faster
    that way on CPU.
    """

    def __init__(self, config: DenoiserConfig, module: nn.Module, **kwargs: Any) -> None:
        kwargs.setdefault("backend", "torch")
        super().__init__(config, **kwargs)
        self.module = module.eval().to(memory_format=torch.channels_last)
        self.device = torch.device("cpu")
        self._run = self.run_module

    def to(self, device: str | torch.device) -> TorchDenoiser:
        """Move the module to ``device`` (``"cuda"``, say); numpy batches travel there and back."""
        self.device = torch.device(device)
        self.module.to(self.device)
        return self

    def accelerate(self, *, precision: str = "fp32", compile: bool = False) -> None:
        """bf16 runs the module under CPU autocast (weights stay fp32; convolutions and matrix
        products compute in bfloat16). ``compile`` wraps the run in ``torch.compile`` with static
        shapes: the engine feeds tiles of one shape, one at a time, so a photo compiles once (about
        15 s the first time, a few seconds once inductor's on-disk cache has it)."""
        if precision not in PRECISIONS:
            super().accelerate(precision=precision)  # raises the one-line error
        run = self.run_module
        if precision == "bf16":
            inner = run

            def run(x: torch.Tensor, sigma: float | None) -> torch.Tensor:
                with torch.autocast(self.device.type, dtype=torch.bfloat16):
                    return inner(x, sigma).float()  # numpy has no bfloat16

        self._run = torch.compile(run, dynamic=False) if compile else run
        self.precision, self.compiled = precision, compile

    def run_module(self, x: torch.Tensor, sigma: float | None) -> torch.Tensor:
        """Run the module on an NCHW batch; override to feed ``sigma`` to models that take it.
        With ``config.noise_map`` the module gets the map's planes after the image's channels."""
        if uses_noise_map(self.config):
            x = with_noise_map(x, sigma)
        return self.module(x)

    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).permute(0, 3, 1, 2).to(self.device)
        with torch.inference_mode():
            if self.compiled and len(x) > 1:  # one image per call: a new batch size would recompile
                y = torch.cat([self._run(x[i:i + 1], sigma) for i in range(len(x))])
            else:
                y = self._run(x, sigma)
        return y.permute(0, 2, 3, 1).contiguous().cpu().numpy()

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.module.state_dict().items()}

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        own = self.module.state_dict()
        names = check_state({k: tuple(v.shape) for k, v in own.items()}, state, strict, self._label())
        tensors = {k: torch.from_numpy(np.asarray(state[k])).to(own[k].dtype) for k in names}
        self.module.load_state_dict(tensors, strict=False)

    def _label(self) -> str:
        return f"{self.architecture or type(self).__name__} ({self.backend})"


def with_noise_map(x: torch.Tensor, sigma: float | None) -> torch.Tensor:
    """``x`` (N, C, H, W) with the noise-level map's planes appended (zoo.sdk.common.noise_map_planes)."""
    n, _, h, w = x.shape
    planes = torch.tensor(noise_level(sigma), dtype=x.dtype, device=x.device).view(1, NOISE_MAP_CHANNELS, 1, 1)
    return torch.cat([x, planes.expand(n, NOISE_MAP_CHANNELS, h, w)], dim=1)


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters (what `zoo info` reports)."""
    return sum(p.numel() for p in module.parameters())


# -- blocks -------------------------------------------------------------------------------------
# Haar wavelet transform, orthonormal (factor 1/2), bands stacked band-major along channels:
# [LL(C), HL(C), LH(C), HH(C)], as in MWCNN. IWT is its exact transpose, hence its inverse.


def haar_dwt(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 4C, H/2, W/2); H and W must be even."""
    a, b = x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2]  # top-left, bottom-left
    c, d = x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]  # top-right, bottom-right
    ll = (a + b + c + d) * 0.5
    hl = (-a - b + c + d) * 0.5
    lh = (-a + b - c + d) * 0.5
    hh = (a - b - c + d) * 0.5
    return torch.cat([ll, hl, lh, hh], dim=1)


def haar_iwt(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`haar_dwt`: (N, 4C, h, w) -> (N, C, 2h, 2w)."""
    ll, hl, lh, hh = torch.chunk(x, 4, dim=1)
    a = (ll - hl - lh + hh) * 0.5
    b = (ll - hl + lh - hh) * 0.5
    c = (ll + hl - lh - hh) * 0.5
    d = (ll + hl + lh + hh) * 0.5
    n, ch, h, w = a.shape
    # pixel_shuffle reads each channel's 4 sub-pixels in row-major order (0,0), (0,1), (1,0), (1,1)
    blocks = torch.stack([a, c, b, d], dim=2).reshape(n, ch * 4, h, w)
    return F.pixel_shuffle(blocks, 2)


class HaarDWT(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return haar_dwt(x)


class HaarIWT(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return haar_iwt(x)


def local_mean(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """Mean over a ``kernel`` window around each pixel, same size out (NAFNet's TLC AvgPool2d).

    Windows are clipped to the feature size; the valid means are padded by edge replication, so a
    window as large as the map reduces to the global mean. Two 1-D average pools (rows, then
    columns) keep the channels-last layout: on a 32x512x512 map they take 49 ms against 67 ms for
    cumulative sums, whose pass along the rows of a channels-last map is slow.
    """
    h, w = x.shape[-2:]
    k1, k2 = min(h, kernel), min(w, kernel)
    means = F.avg_pool2d(F.avg_pool2d(x, (k1, 1), stride=1), (1, k2), stride=1)
    top, left = (k1 - 1) // 2, (k2 - 1) // 2
    return F.pad(means, (left, k2 - 1 - left, top, k1 - 1 - top), mode="replicate")


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention (RCAN): pool, 1x1 reduce, ReLU, 1x1 expand, sigmoid.

    ``pool_kernel=None`` pools over the whole map (as trained); an int pools locally over that
    window (TLC), so tiled and whole-image inference agree much more closely on large images.
    Canonical names: ``reduce.weight/bias``, ``expand.weight/bias``.
    """

    def __init__(self, channels: int, reduction: int, pool_kernel: int | None = None) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)
        self.pool_kernel = pool_kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool_kernel is None:
            y = x.mean(dim=(2, 3), keepdim=True)
        else:
            y = local_mean(x, self.pool_kernel)
        y = torch.sigmoid(self.expand(F.relu(self.reduce(y))))
        return x * y
