"""Framework-free helpers shared by the torch and Keras backend bases."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from registry.errors import WeightsError

# Test-time local pooling (TLC, arXiv 2112.04491): NAFNetLocal pools over a window 1.5x the
# training patch, which keeps the statistics the attention saw in training on large test images.
TLC_FACTOR = 1.5


# A noise-level map (FFDNet, DRUNet) as two extra input planes: the level sigma/NOISE_LEVEL_SCALE,
# and 1 where the level is known. A model trained with the level sometimes withheld (both planes 0)
# is the same network blind and non-blind: ``--sigma`` given is used, left out it runs blind.
# The scale puts the usual range (sigma 0-50) near [0, 1], like the other plane and the pixels, so
# the map's weights, zero when a network is grown, learn as fast as the image's (with Adam,
# scaling an input by k scales its weights' effect per step by k).
NOISE_MAP_CHANNELS = 2
NOISE_LEVEL_SCALE = 50.0


def noise_map_field() -> Any:
    """The ``noise_map`` config field every architecture with a noise-level map input declares."""
    from pydantic import Field

    return Field(False, description="Take a noise-level map (NOISE_MAP_CHANNELS planes after the image: "
                 "sigma/50 and 'known'), so a given --sigma is used; trained with the level sometimes "
                 "withheld (zoo train --noise-map), the same network runs blind without it.")


def noise_level(sigma: float | None) -> tuple[float, float]:
    """The map's value at every pixel for ``sigma`` (0-255 scale; None: unknown)."""
    return (0.0, 0.0) if sigma is None else (float(sigma) / NOISE_LEVEL_SCALE, 1.0)


def noise_map_planes(shape: tuple[int, ...], sigma: float | np.ndarray | None) -> np.ndarray:
    """The NOISE_MAP_CHANNELS float32 planes for an NHWC batch of ``shape``; ``sigma`` may also be
    an HxW array, a level per pixel (spatially varying noise, as FFDNet's map allows)."""
    n, h, w = shape[:3]
    if sigma is None or np.ndim(sigma) == 0:
        return np.broadcast_to(np.asarray(noise_level(sigma), np.float32), (n, h, w, NOISE_MAP_CHANNELS))
    level = np.broadcast_to(np.asarray(sigma, np.float32) / NOISE_LEVEL_SCALE, (n, h, w))
    return np.stack([level, np.ones_like(level)], axis=-1)


def uses_noise_map(config: object) -> bool:
    """Whether a config asks for a noise-level map input (a ``noise_map`` field set True)."""
    return bool(getattr(config, "noise_map", False))


def tlc_kernel(train_size: int, downscale: int, factor: float = TLC_FACTOR) -> int:
    """Local pooling window (pixels) of a feature map ``downscale`` times smaller than the input.

    NAFNet derives it from the feature size at training resolution: ``int(train * 1.5) // scale``.
    """
    return max(1, int(train_size * factor) // downscale)


def check_state(
    expected: Mapping[str, tuple[int, ...]],
    state: Mapping[str, np.ndarray],
    strict: bool,
    label: str,
) -> list[str]:
    """Names of ``state`` to load into a model whose canonical tensors have ``expected`` shapes.

    Raises WeightsError listing missing, unexpected (both only when ``strict``) and misshapen
    tensors (always): a shape mismatch almost always means another preset or architecture.
    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshapen = [
        f"{k} (file {tuple(np.shape(state[k]))}, model {tuple(expected[k])})"
        for k in expected if k in state and tuple(np.shape(state[k])) != tuple(expected[k])
    ]
    problems = [f"wrong shape: {_few(misshapen)}"] if misshapen else []
    if strict:
        problems += [f"missing: {_few(missing)}"] if missing else []
        problems += [f"unexpected: {_few(unexpected)}"] if unexpected else []
    if problems:
        raise WeightsError(
            f"weights do not fit this {label}: " + "; ".join(problems)
            + "; were they saved for another architecture or preset?"
        )
    return [k for k in expected if k in state]


def _few(names: list[str], n: int = 3) -> str:
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more + f" ({len(names)} tensors)"
