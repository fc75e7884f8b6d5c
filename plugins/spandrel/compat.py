"""Importing spandrel beside a CPU torch whose torchvision does not load.

``import spandrel`` imports every architecture it supports, and two of them import torchvision at
import time: RestoreFormer (face restoration: ``normalize``) and LaMa (inpainting: ``rotate``,
``InterpolationMode``). No denoising network uses torchvision. PyPI's torchvision wheels are CUDA
builds; beside a CPU build of torch (this project's, pinned in constraints.txt) ``import
torchvision`` raises ``RuntimeError: operator torchvision::nms does not exist``, and the CPU wheel
lives on an index CI cannot reach. So when torchvision is missing or broken, spandrel is imported
with a stand-in for exactly those three names, removed from ``sys.modules`` again at once so that
nothing else ever sees it; calling a stand-in raises (the zoo refuses those two models anyway).
With a working torchvision none of this happens.
"""

from __future__ import annotations

import enum
import sys
import types
from typing import Any

from plugins.spandrel.arches import EXTRA_PACKAGE
from registry.errors import BackendUnavailableError

STANDIN = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
INSTALL = "pip install -c constraints.txt 'denoise-zoo[spandrel]'"
EXTRA_INSTALL = (f"its code is under non-commercial licences, so the zoo never installs it: "
                 f"pip install -c constraints.txt {EXTRA_PACKAGE} if your use allows")


class InterpolationMode(enum.Enum):
    """The members LaMa's module reads at import time."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def _unavailable(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("this spandrel architecture needs a working torchvision (face restoration, inpainting)")


def _standin() -> dict[str, types.ModuleType]:
    root, transforms, functional = (types.ModuleType(name) for name in STANDIN)
    functional.normalize = functional.rotate = _unavailable  # type: ignore[attr-defined]
    functional.InterpolationMode = transforms.InterpolationMode = InterpolationMode  # type: ignore[attr-defined]
    root.transforms, transforms.functional = transforms, functional  # type: ignore[attr-defined]
    return dict(zip(STANDIN, (root, transforms, functional)))


def torchvision_works() -> bool:
    """Whether torchvision imports here (False for a CUDA wheel beside a CPU torch)."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # ImportError, or RuntimeError from its operator registrations
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]  # a half-imported torchvision must not be found later
        return False
    return True


def import_spandrel(extra: bool = False) -> types.ModuleType:
    """``spandrel`` (with ``spandrel_extra_arches`` installed into its registry when ``extra``);
    BackendUnavailableError with the install line when it is not installed."""
    if "spandrel" not in sys.modules and not torchvision_works():
        saved = {name: sys.modules.pop(name) for name in STANDIN if name in sys.modules}
        sys.modules.update(_standin())
        try:
            _import("spandrel")
        finally:
            for name in STANDIN:
                sys.modules.pop(name, None)
            sys.modules.update(saved)
    spandrel = _import("spandrel")
    if extra:
        _install_extra()
    return spandrel


def _import(name: str, install: str = INSTALL) -> types.ModuleType:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BackendUnavailableError(f"{name} is not installed: {install}") from exc


def _install_extra() -> None:
    extra = _import(EXTRA_PACKAGE, EXTRA_INSTALL)
    from spandrel import MAIN_REGISTRY

    if "Restormer" not in MAIN_REGISTRY:  # install() adds them once; a second call would raise
        extra.install()
