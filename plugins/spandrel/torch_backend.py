"""Any network spandrel recognises as a zoo Denoiser, and the reader of its weight files.

Weights decide the network: ``load_state_dict`` hands the tensors to spandrel's detection (for a
named model, that architecture's alone), refuses what is not a 1x restoration model, and swaps in
the network spandrel built. What spandrel says about it feeds the engine: ``size_multiple``, a
minimum or square size (padded here, cropped back), the tile overlap (larger where spandrel
discourages tiling; one tile as large as the engine allows where the model tiles internally), bf16.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from plugins.spandrel.arches import BY_ID, EXTRA_PACKAGE, BY_NAME
from plugins.spandrel.compat import import_spandrel
from plugins.spandrel.config import SpandrelConfig
from zoo.sdk import WeightsError, ZooError
from zoo.sdk.torch_base import TorchDenoiser

PLACEHOLDER = BY_NAME["fdncnn"].tiny
DEFAULT_NOISE_LEVEL = 15.0  # DPIR's default for DRUNet and FDnCNN, used where no sigma reaches run_module
PICKLES = (".pth", ".ckpt", ".pt")
# spandrel calls these "Restoration" and scale 1, but they do not denoise
NOT_DENOISERS = {"MixDehazeNet": "dehazing", "RetinexFormer": "low-light enhancement",
                 "HVICIDNet": "low-light enhancement", "DDColor": "colorization"}


class Bridge(nn.Module):
    """spandrel's network with the call spandrel makes, as one module: ``forward(x, sigma)`` pads to
    its size requirements, adds the noise map or runs each channel alone where the network wants
    that, and crops back. `zoo info`, `zoo train` and the ONNX export all see this module."""

    def __init__(self, descriptor: Any) -> None:
        super().__init__()
        req, bridged = descriptor.size_requirements, BY_ID.get(descriptor.architecture.id)
        self.net = descriptor.model
        self.call = descriptor._call_fn  # how spandrel runs it (MPRNet: its last stage; IPT: its chopper)
        self.multiple, self.minimum, self.square = max(1, int(req.multiple_of)), int(req.minimum), bool(req.square)
        self.gray = descriptor.input_channels == 1
        self.noise_map = bool(bridged and bridged.noise_map and _takes_noise_map(descriptor))
        # networks outside the table are not exported: nobody checked that their graph is right
        self.exports = bool(bridged and bridged.exports) and not (self.minimum or self.square)
        self.one_image = bool(bridged and bridged.one_image)
        self.arch = descriptor.architecture.id

    def to(self, *args: Any, **kwargs: Any) -> Bridge:
        if self.one_image:  # IPT's chopper views its outputs: they must stay contiguous
            kwargs.pop("memory_format", None)
        try:
            return super().to(*args, **kwargs)
        except RuntimeError:  # channels_last needs 4-D tensors; some networks hold others (FFTformer)
            if "memory_format" not in kwargs:
                raise
            kwargs.pop("memory_format")
            return super().to(*args, **kwargs)

    def forward(self, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        if not self.exports and _tracing():
            raise RuntimeError(f"{self.arch} sizes its padding or windows in Python from the input; "
                               "a traced graph would be wrong at other sizes")
        n, c, h, w = x.shape
        if self.gray:  # a one-channel network denoises each colour channel on its own
            x = x.reshape(n * c, 1, h, w)
        x = self._pad(x)
        if self.noise_map:
            level = (DEFAULT_NOISE_LEVEL if sigma is None else float(sigma)) / 255.0
            y = self.net(torch.cat([x, torch.full_like(x[:, :1], level)], dim=1))
        elif self.one_image:
            y = torch.cat([self.call(self.net, x[i:i + 1].contiguous()) for i in range(len(x))])  # it views
        else:
            y = self.call(self.net, x)
        return y[..., :h, :w].reshape(n, c, h, w)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        th, tw = max(h, self.minimum), max(w, self.minimum)
        if self.square:
            th = tw = max(th, tw)
        th, tw = -(-th // self.multiple) * self.multiple, -(-tw // self.multiple) * self.multiple
        if (th, tw) == (h, w):
            return x
        mode = "reflect" if th - h < h and tw - w < w else "replicate"  # reflection needs room
        return F.pad(x, (0, tw - w, 0, th - h), mode=mode)


class SpandrelTorch(TorchDenoiser):
    """A spandrel ``ImageModelDescriptor`` behind the Denoiser contract."""

    def __init__(self, config: SpandrelConfig, descriptor: Any) -> None:
        super().__init__(config, Bridge(descriptor))
        self._adopt(descriptor)

    def _adopt(self, descriptor: Any) -> None:
        tiling = import_spandrel().ModelTiling
        self.descriptor = descriptor
        self.size_multiple = self.module.multiple
        self.takes_sigma = self.module.noise_map
        self.receptive_field = self.config.receptive_field
        if descriptor.tiling == tiling.DISCOURAGED:  # seams show: twice the overlap
            self.receptive_field *= 2
        elif descriptor.tiling == tiling.INTERNAL:  # it tiles itself: one tile, as large as the engine allows
            self.bytes_per_pixel = 1

    def describe(self) -> dict[str, Any]:
        """What spandrel tells about the loaded network."""
        d = self.descriptor
        req = d.size_requirements
        return {
            "architecture": d.architecture.id, "tags": list(d.tags), "purpose": d.purpose, "scale": d.scale,
            "input_channels": d.input_channels, "output_channels": d.output_channels,
            "size": {"minimum": req.minimum, "multiple_of": req.multiple_of, "square": req.square},
            "tiling": d.tiling.name.lower(), "fp16": d.supports_half, "bf16": d.supports_bfloat16,
        }

    def accelerate(self, *, precision: str = "fp32", compile: bool = False) -> None:
        if precision == "bf16" and not self.descriptor.supports_bfloat16:
            raise ZooError(f"{self.descriptor.architecture.id} does not support bf16 (spandrel says so); use fp32")
        super().accelerate(precision=precision, compile=compile)

    def run_module(self, x: torch.Tensor, sigma: float | None) -> torch.Tensor:
        return self.module(x, sigma)

    # -- weights: the network's own names; they choose the network
    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.module.net.state_dict().items()}

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        descriptor = detect(self.config.only, _tensors(state), self.architecture or type(self).__name__)
        self.module = Bridge(descriptor).eval().to(self.device, memory_format=torch.channels_last)
        found = {"network": descriptor.architecture.id, "params": _hyperparameters(descriptor.model)}
        self.config = type(self.config).model_validate({**self.config.model_dump(), **found})
        self._adopt(descriptor)


def detect(only: str | None, tensors: dict[str, torch.Tensor], label: str) -> Any:
    """spandrel's descriptor for ``tensors`` (only architecture ``only`` when given), or WeightsError
    saying why it cannot denoise with the zoo: unrecognised, or not a 1x RGB restoration model."""
    spandrel = _spandrel_for(only)
    tensors = spandrel.canonicalize_state_dict(tensors)
    supports = [spandrel.MAIN_REGISTRY[only]] if only else list(spandrel.MAIN_REGISTRY.architectures("detection"))
    found = next((s for s in supports if s.detect(tensors)), None)
    if found is None:
        what = f"{only} weights" if only else "a network spandrel recognises"
        raise WeightsError(f"{label}: these tensors are not {what} (the first: {', '.join(list(tensors)[:3])})")
    try:
        descriptor = found.architecture.load(tensors)
    except Exception as exc:  # strict load_state_dict: missing, unexpected or misshapen tensors
        raise WeightsError(f"{label}: spandrel could not load these {found.architecture.id} weights: "
                           f"{_first_line(exc)}") from exc
    _refuse(descriptor, spandrel, label)
    return descriptor


def _spandrel_for(only: str | None) -> Any:
    """spandrel, with the restrictive-licence architectures in its registry when ``only`` is one of
    them (an error if missing) or when any network is welcome and the user installed them."""
    if only is not None and BY_ID[only].extra:
        return import_spandrel(extra=True)
    return import_spandrel(extra=only is None and importlib.util.find_spec(EXTRA_PACKAGE) is not None)


def _refuse(descriptor: Any, spandrel: Any, label: str) -> None:
    arch, purpose = descriptor.architecture.id, descriptor.purpose
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or purpose not in ("Restoration", "SR"):
        raise WeightsError(f"{label}: {arch} is a {purpose} model, not a denoiser")
    if descriptor.scale != 1:
        raise WeightsError(f"{label}: {arch} is a {descriptor.scale}x super-resolution model; the zoo runs "
                           "denoisers, whose output has the input's size (scale 1)")
    if arch in NOT_DENOISERS:
        raise WeightsError(f"{label}: {arch} is a {NOT_DENOISERS[arch]} model, not a denoiser")
    if descriptor.input_channels != descriptor.output_channels or descriptor.input_channels not in (1, 3):
        raise WeightsError(f"{label}: {arch} maps {descriptor.input_channels} channels to "
                           f"{descriptor.output_channels}; the zoo runs RGB (or one-channel) denoisers")


def _tracing() -> bool:
    exporting = getattr(torch.compiler, "is_exporting", lambda: False)
    return bool(torch.jit.is_tracing() or exporting())


def _takes_noise_map(descriptor: Any) -> bool:
    """DRUNet always; DnCNN only in its FDnCNN form (one input channel more than it outputs)."""
    return getattr(descriptor.model, "mode", "FDnCNN") == "FDnCNN"


def _hyperparameters(model: Any) -> dict[str, Any]:
    """The constructor arguments spandrel recorded, as JSON values; others (norm layer classes, say)
    are left out: they are the class defaults, which the class restores by itself."""
    found = {}
    for key, value in getattr(model, "hyperparameters", {}).items():
        try:
            found[key] = _json(value)
        except TypeError:
            continue
    return found


def _json(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(type(value).__name__)


def _tensors(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.asarray(v)) for k, v in state.items()}


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def build(config: SpandrelConfig) -> SpandrelTorch:
    """The config's network with the framework's random weights (the kit's model), through the same
    spandrel load a weight file takes, so both report the same sizes and tiling."""
    bridged = config.bridged
    if bridged is None:  # a network only `spandrel` takes: a placeholder until its weights load
        return build(config.model_copy(update={"network": "DnCNN", "params": PLACEHOLDER}))
    import_spandrel(extra=bridged.extra)
    device = torch.empty(0).device  # `zoo info` counts on the meta device
    with torch.device("cpu"):  # where constructors that read tensor values (SCUNet) can run
        network = getattr(importlib.import_module(bridged.module), bridged.cls)(**config.params)
        denoiser = SpandrelTorch(config, detect(config.network, network.state_dict(), config.network))
    return denoiser if device.type == "cpu" else denoiser.to(device)


def read_weights(path: Path, trust_pickle: bool = False) -> dict[str, np.ndarray]:
    """A weight file as a canonical state dict: safetensors always; a pickled checkpoint (.pth,
    .ckpt, .pt) only with ``trust_pickle``, and then through spandrel's restricted unpickler (state
    dicts only, never arbitrary objects). Wrappers (``params_ema``, ``state_dict``, ``module.``)
    are removed as spandrel does; half and bfloat16 tensors become float32."""
    path = Path(path)
    if path.suffix.lower() in PICKLES and not trust_pickle:
        raise WeightsError(f"{path.name} is a pickled checkpoint, which can run arbitrary code; convert it to "
                           "safetensors or pass --trust-pickle if you trust its source (spandrel's restricted "
                           "unpickler then reads it)")
    spandrel = import_spandrel()
    loader = spandrel.ModelLoader()
    try:
        if path.suffix.lower() in PICKLES:
            state = spandrel.canonicalize_state_dict(loader._load_pth(path))  # never TorchScript: no code runs
        else:
            state = loader.load_state_dict_from_file(path)
    except Exception as exc:
        raise WeightsError(f"{path.name} could not be read: {_first_line(exc)}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path.name} holds no state dict of named tensors")
    return {k: (v.float() if v.is_floating_point() else v).detach().cpu().numpy() for k, v in state.items()}


