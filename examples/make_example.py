"""Regenerate the bundled example: scikit-image's 'coffee' photo (CC0, Rachel Michetti) with
realistic camera noise (zoo.imaging.noise 'camera:sharp': Poisson-Gaussian noise at the sites of a Bayer
mosaic, spread by demosaicing, sRGB curve, JPEG), as a photo from a camera at high ISO looks.

    python examples/make_example.py   # writes examples/coffee-noisy.png (seed 9)
"""

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from zoo.imaging.noise import NoiseSpec

SEED = 9  # a draw with clearly visible noise (29.1 dB against the clean crop)

clean = data.coffee()[50:350, 100:500].astype(np.float32) / 255.0  # 300x400 keeps the file small
noisy, _ = NoiseSpec.parse("camera:sharp").apply(clean, np.random.default_rng(SEED))
out = Path(__file__).with_name("coffee-noisy.png")
Image.fromarray(np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)).save(out)
