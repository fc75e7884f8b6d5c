"""Model size and cost per preset, measured from the model itself (what `zoo info` shows).

Parameters are counted on the PyTorch module; multiply-accumulates (MACs) are those of every
convolution and linear layer, recorded by forward hooks during one pass on a PROBE x PROBE input
and scaled to one megapixel. The pass runs on torch's ``meta`` device: shapes only, no arithmetic
and no memory, so even the seed-sized networks are measured in a fraction of a second.
Fully convolutional networks cost exactly linearly in pixels; the only pixel-independent terms
(1x1 convolutions on globally pooled vectors) are under 0.1 % of the total and scale with it.
torch is imported lazily; without it (or without a torch backend) the stats are absent.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from registry.spec import Architecture

PROBE = 256  # a multiple of every built-in size multiple
MEGAPIXEL = 1_000_000


def unavailable_reason(arch: Architecture) -> str | None:
    """Why stats cannot be computed for ``arch`` here, or None when they can."""
    if not arch.needs_weights:
        return "weight-free method: no parameters"
    if "torch" not in arch.backends:
        return "computed from the torch backend, which this architecture does not have"
    if importlib.util.find_spec("torch") is None:
        return "install torch (pip install 'denoise-zoo[torch]') to compute parameters and MACs"
    return None


def preset_stats(arch: Architecture) -> dict[str, dict[str, float]]:
    """{preset: {'params': count, 'macs_per_mp': MACs per megapixel}} for every preset."""
    presets = list(arch.config.presets) or [None]
    return {str(p if p is not None else "default"): model_stats(arch, p) for p in presets}


def model_stats(arch: Architecture, preset: str | None) -> dict[str, float]:
    """Parameters and MACs per megapixel of one preset's torch model."""
    import torch

    with torch.device("meta"):
        from zoo.sdk import torch_module

        module = torch_module(arch.build(arch.config.preset(preset), "torch"), "`zoo info` (params, MACs)")
        params = sum(p.numel() for p in module.parameters())
        macs = _count_macs(module, torch.empty(1, 3, PROBE, PROBE))
    return {"params": int(params), "macs_per_mp": macs * MEGAPIXEL / (PROBE * PROBE)}


def _count_macs(module: Any, x: Any) -> int:
    import torch
    from torch import nn

    total = [0]

    def conv_hook(layer: nn.Conv2d, _inputs: Any, out: torch.Tensor) -> None:
        kh, kw = layer.kernel_size
        total[0] += out.numel() * (layer.in_channels // layer.groups) * kh * kw

    def linear_hook(layer: nn.Linear, _inputs: Any, out: torch.Tensor) -> None:
        total[0] += out.numel() * layer.in_features

    hooks = []
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            hooks.append(layer.register_forward_hook(conv_hook))
        elif isinstance(layer, nn.Linear):
            hooks.append(layer.register_forward_hook(linear_hook))
    try:
        with torch.inference_mode():
            module(x)
    finally:
        for h in hooks:
            h.remove()
    return total[0]


def human(n: float) -> str:
    """1234567 -> '1.23M'."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"
