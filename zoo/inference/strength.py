"""How much of the denoiser's work to keep: ``--strength`` and ``--chroma-strength``.

Both are fractions from 0 (the input) to 1 (the model's output). ``strength`` applies to the
luma, ``chroma_strength`` to the chroma; without ``chroma_strength`` both take ``strength``, and
the result is the plain mix ``input + strength * (output - input)`` on every colour channel.

Luma and chroma are those of YCbCr as JPEG defines it (ITU-R BT.601, full range) on the file's
own (gamma-encoded) values: ``Y = 0.299 R + 0.587 G + 0.114 B``, and Cb, Cr the colour
differences. The split is linear, so it is applied to the change the model made, ``d = output -
input``: its luma part is ``dY = 0.299 dR + 0.587 dG + 0.114 dB`` in every channel (grey, no
colour), its chroma part is ``d - dY``. The result is ``input + strength * dY + chroma_strength *
(d - dY)``: its Y is exactly the Y of the ``strength`` mix, and its Cb and Cr
lie between the input's and the output's by ``chroma_strength`` (as Lightroom's luminance and
colour noise sliders, and darktable's separate luma and chroma curves, let a photographer keep
the colour clean while some grain stays). Where that colour would fall outside [0, 1] (a
saturated pixel given back more chroma than the ``strength`` mix has), its chroma change is
shortened just enough to stay inside, so the luma stays exact and only that pixel's chroma mix
is smaller. Grayscale images have no chroma: only ``strength`` counts. Alpha is never touched: it
is the input's.

``strength = 0`` (and no chroma) returns the input's values themselves, so a file written from
it holds the input's 8- or 16-bit values unchanged; ``strength = 1`` returns the output itself.
"""

from __future__ import annotations

import math

import numpy as np

from registry.errors import ZooError

LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601, as JPEG's YCbCr


def check(strength: object, chroma_strength: object = None, flag: str = "--") -> tuple[float, float | None]:
    """The two values as floats, or a one-line ZooError naming the bad one (``flag`` prefixes
    the names: ``--strength`` on the command line, ``strength`` in Python)."""
    names = {"strength": f"{flag}strength", "chroma": f"{flag}chroma-strength" if flag else "chroma_strength"}
    return _fraction(strength, names["strength"]), (
        None if chroma_strength is None else _fraction(chroma_strength, names["chroma"]))


def _fraction(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (0.0 <= number <= 1.0):
        raise ZooError(f"{name} takes a number from 0 (the input) to 1 (the full denoise), got {value!r}")
    return number


def is_default(strength: float, chroma_strength: float | None) -> bool:
    """Whether the output is the model's own: nothing to mix, nothing to record in names."""
    return strength == 1.0 and chroma_strength in (None, 1.0)


def blend(
    before: np.ndarray, after: np.ndarray, strength: float = 1.0, chroma_strength: float | None = None,
) -> np.ndarray:
    """Mix float HxWxC ``before`` (the input) and ``after`` (the model's output) as the module
    docstring says; the same shape and dtype out. Alpha channels (C = 2 or 4) come from ``before``."""
    strength, chroma_strength = check(strength, chroma_strength, flag="")
    colour = 1 if before.shape[2] in (1, 2) else 3
    if colour == 1 or chroma_strength is None:
        chroma_strength = strength
    if strength == chroma_strength == 0.0:
        return before.copy()
    out = after.copy()
    out[..., colour:] = before[..., colour:]
    if strength == chroma_strength == 1.0:
        return out
    change = after[..., :colour] - before[..., :colour]
    if strength == chroma_strength:
        mixed = before[..., :colour] + np.float32(strength) * change
    else:
        luma = (change @ LUMA)[..., None]
        base = before[..., :colour] + np.float32(strength) * change  # the --strength mix: in range
        mixed = base + _in_gamut(base, np.float32(chroma_strength - strength) * (change - luma))
    out[..., :colour] = np.clip(mixed, 0.0, 1.0)
    return out


def _in_gamut(base: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``shift`` (a pure chroma change) shortened per pixel as little as keeps ``base + shift`` in
    [0, 1]: the colour is desaturated towards ``base``, whose luma it keeps exactly (clipping each
    channel instead would change the luma)."""
    room = np.where(shift > 0, 1.0 - base, np.where(shift < 0, -base, np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = np.where(shift != 0, room / np.where(shift != 0, shift, 1), np.inf)
    return shift * np.clip(limit.min(axis=-1, keepdims=True), 0.0, 1.0)


def describe(strength: float, chroma_strength: float | None) -> str:
    """The name part that records a mix in output names: "" for the model's own output,
    "strength0.5", "strength1-chroma0.3"."""
    if is_default(strength, chroma_strength):
        return ""
    chroma = "" if chroma_strength is None else f"-chroma{chroma_strength:g}"
    return f"strength{strength:g}{chroma}"
