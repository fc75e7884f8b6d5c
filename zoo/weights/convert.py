"""`zoo convert`: canonical .safetensors <-> each backend's native weight format.

- ``.pt`` / ``.pth``: a PyTorch state dict (``torch.save`` of name -> tensor). The canonical names
  and layouts *are* PyTorch's, so this is a change of container; with ``--model`` the tensors are
  checked against the architecture first. Reading one back uses ``torch.load(weights_only=True)``,
  which refuses arbitrary pickled objects: a checkpoint that needs more is rejected, not run.
- ``.weights.h5``: Keras 3 weights of the architecture's TensorFlow model (``save_weights``), laid
  out by Keras layer paths, so the model (name and preset) is needed both ways.

- ``.onnx``: an ONNX graph (opset 17, NCHW float32 in [0, 1], dynamic batch, height and width)
  of the architecture's torch module with the weights baked in (zoo.runtimes.graphs); one way
  only, from ``.safetensors``. The model and config come from the file's metadata (or ``--model``
  and ``--preset``). With TLC local pooling the graph serves inputs at least as large as its
  ``serves`` metadata says (smaller ones need `zoo denoise --backend onnx`, which exports per size).

The direction follows the file names: a ``.safetensors`` source is written out natively, a native
source is written as ``.safetensors``. Frameworks are imported only when a conversion needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from registry.errors import WeightsError, ZooError
from registry.manager import get_registry
from zoo.atomic import atomic_path

TORCH_SUFFIXES = (".pt", ".pth")
KERAS_SUFFIX = ".weights.h5"
ONNX_SUFFIX = ".onnx"
CANONICAL_SUFFIX = ".safetensors"


def native_format(path: Path) -> str | None:
    """'torch', 'tensorflow' or None (canonical) from a file name; ZooError when unknown."""
    name = Path(path).name.lower()
    if name.endswith(CANONICAL_SUFFIX):
        return None
    if name.endswith(TORCH_SUFFIXES):
        return "torch"
    if name.endswith(KERAS_SUFFIX):
        return "tensorflow"
    if name.endswith(ONNX_SUFFIX):
        return "onnx"
    raise ZooError(
        f"cannot tell the weight format of {Path(path).name!r}: use .safetensors (canonical), "
        ".pt/.pth (PyTorch state dict), .weights.h5 (Keras) or .onnx (an ONNX graph, from .safetensors)"
    )


def convert(src: Path, dst: Path, model: str | None = None, preset: str | None = None, overwrite: bool = False) -> Path:
    """Convert ``src`` to ``dst`` (see the module docstring); return ``dst``."""
    src, dst = Path(src), Path(dst)
    src_kind, dst_kind = native_format(src), native_format(dst)
    if (src_kind is None) == (dst_kind is None):
        raise ZooError("convert between a .safetensors file and a native one (.pt, .pth or .weights.h5)")
    if not src.is_file():
        raise WeightsError(f"weights file not found: {src}")
    if dst.exists() and not overwrite:
        raise ZooError(f"{dst} exists; pass --overwrite to replace it")
    if src_kind == "onnx":
        raise ZooError("an .onnx graph cannot be turned back into weights; convert the .safetensors it came from")
    if dst_kind == "onnx":
        write_onnx(src, dst, model, preset)
    elif src_kind is None:
        _write_native(_read_canonical(src), dst, dst_kind, model, preset)
    else:
        _write_canonical(_read_native(src, src_kind, model, preset), dst, model, preset, src.name)
    return dst


def write_onnx(src: Path, dst: Path, model: str | None = None, preset: str | None = None) -> Path:
    """Export the model of canonical weights ``src`` to an ONNX graph at ``dst`` (also what
    `zoo export --onnx` writes beside model.safetensors)."""
    from zoo.runtimes.graphs import export_file
    from zoo.weights.loader import load

    denoiser = load(model, backend="torch", weights=str(src), preset=preset)
    return export_file(denoiser, Path(dst))


def _read_canonical(path: Path) -> dict[str, np.ndarray]:
    from zoo.weights.files import load_state

    return load_state(path)


def _write_canonical(state: dict[str, np.ndarray], dst: Path, model: str | None, preset: str | None,
                     src_name: str = "") -> None:
    from zoo.weights.files import save_state
    from zoo.weights.metadata import describe

    metadata = None
    if model is not None:
        denoiser = _denoiser(model, preset, _any_backend(model))
        denoiser.load_state_dict(state)  # validates names and shapes before anything is written
        metadata = describe(denoiser.architecture, denoiser.config, provenance=f"zoo convert from {src_name}")
    save_state(state, dst, metadata=metadata)


def _write_native(state: dict[str, np.ndarray], dst: Path, kind: str, model: str | None, preset: str | None) -> None:
    if kind == "torch":
        if model is not None:
            _denoiser(model, preset, "torch").load_state_dict(state)
        _torch_save(state, dst)
    else:
        denoiser = _denoiser(_required(model), preset, "tensorflow")
        denoiser.load_state_dict(state)
        _keras_save(denoiser.model, dst)


def _read_native(src: Path, kind: str, model: str | None, preset: str | None) -> dict[str, np.ndarray]:
    if kind == "torch":
        return _torch_load(src)
    denoiser = _denoiser(_required(model), preset, "tensorflow")
    try:
        denoiser.model.load_weights(str(src))
    except Exception as exc:  # Keras raises ValueError/OSError/KeyError on a mismatched file
        raise WeightsError(f"{src.name} does not fit {denoiser.architecture} ({preset or 'default'} preset): {exc}") from exc
    return denoiser.state_dict()


def _torch_save(state: dict[str, np.ndarray], dst: Path) -> None:
    torch = _framework("torch")
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    with atomic_path(dst) as tmp:
        torch.save(tensors, tmp)


def _torch_load(src: Path) -> dict[str, np.ndarray]:
    torch = _framework("torch")
    try:
        # weights_only: tensors and plain containers only; never unpickle arbitrary objects
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{src.name} is not a plain PyTorch state dict (tensors only): {_first_line(exc)}") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # the common training-checkpoint wrapping
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{src.name} does not hold a name -> tensor state dict")
    return {str(k): v.detach().cpu().numpy() for k, v in state.items()}


def _keras_save(model: Any, dst: Path) -> None:
    # Keras insists the file name ends in .weights.h5, so the temp name keeps that ending
    with atomic_path(dst) as tmp:
        keras_tmp = tmp.with_name(tmp.name + KERAS_SUFFIX)
        try:
            model.save_weights(str(keras_tmp))
            keras_tmp.replace(tmp)
        finally:
            keras_tmp.unlink(missing_ok=True)


def _denoiser(model: str, preset: str | None, backend: str) -> Any:
    from zoo.weights.names import parse_model

    arch = get_registry().get(parse_model(model)[0])
    denoiser = arch.build(arch.config.preset(preset), backend)
    denoiser.architecture, denoiser.backend = arch.name, backend
    return denoiser


def _any_backend(model: str) -> str:
    from zoo.weights.names import parse_model

    return get_registry().get(parse_model(model)[0]).default_backend()


def _required(model: str | None) -> str:
    if model is None:
        raise ZooError("Keras .weights.h5 files are laid out by the model: pass --model (and --preset)")
    return model


def _framework(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ZooError(f"this conversion needs {name}: pip install 'denoise-zoo[{name}]'") from exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
