"""The Python entry points: ``zoo.load`` and ``zoo.denoise``.

The public face of the mechanisms below it: ``load`` is zoo.weights.loader's, ``denoise`` reads a
photo (zoo.photo) and runs the tiled engine (zoo.inference.engine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from registry.denoiser import Denoiser, as_float_image
from registry.errors import ZooError
from zoo.inference import engine
from zoo.inference import strength as mix
from zoo.weights.loader import load
from zoo.weights.names import DEFAULT_MODEL, parse_model

__all__ = ["DEFAULT_MODEL", "denoise", "load", "parse_model"]


def denoise(
    image: str | Path | np.ndarray,
    model: str | Denoiser = DEFAULT_MODEL,
    sigma: float | None = None,
    strength: float = 1.0,
    chroma_strength: float | None = None,
    **load_kwargs: Any,
) -> np.ndarray:
    """Denoise a path or an HxWxC array; return the pixels.

    Arrays may be uint8 or uint16 (as Pillow, OpenCV and imageio return them; returned in the same
    dtype) or floats in [0, 1] (returned as floats); a path gives float32 in [0, 1]. Grayscale
    (C = 1) and alpha (C = 2 or 4) are handled: alpha passes through untouched.

    ``strength`` (0 to 1) mixes input and output: 0 gives the input back, 0.5 their mean;
    ``chroma_strength`` does the same for the colour (YCbCr chroma) alone, luma keeping
    ``strength`` (zoo.inference.strength says exactly how).
    """
    strength, chroma_strength = mix.check(strength, chroma_strength, flag="")
    denoiser = model if isinstance(model, Denoiser) else load(model, **load_kwargs)
    if not isinstance(image, (str, Path, np.ndarray)):
        raise ZooError(f"zoo.denoise takes a path or a numpy array, got {type(image).__name__}")
    if isinstance(image, (str, Path)):
        from zoo.photo.imageio import read_image

        image = read_image(image).pixels
    pixels, back = as_float_image(image)  # the public contract: uint8, uint16, or finite floats in [0, 1]
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels  # HxW is grey, as the engine takes it
    out = engine.run(denoiser, pixels, sigma)
    return back(mix.blend(pixels, out, strength, chroma_strength))  # mixed before rounding to the input's dtype
