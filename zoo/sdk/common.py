"""Framework-free helpers shared by the torch and Keras backend bases."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from registry.errors import WeightsError

# Test-time local pooling (TLC, arXiv 2112.04491): NAFNetLocal pools over a window 1.5x the
# training patch, which keeps the statistics the attention saw in training on large test images.
TLC_FACTOR = 1.5


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
