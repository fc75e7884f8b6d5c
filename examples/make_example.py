"""Regenerate the bundled example: scikit-image's 'coffee' photo (CC0, Rachel Michetti) with AWGN.

    python examples/make_example.py   # writes examples/coffee-noisy-s25.png (sigma 25, seed 0)
"""

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

clean = data.coffee()[50:350, 100:500].astype(np.float32)  # 300x400 crop keeps the file small
noise = np.random.default_rng(0).normal(0.0, 25.0, clean.shape)
noisy = np.clip(np.round(clean + noise), 0, 255).astype(np.uint8)
Image.fromarray(noisy).save(Path(__file__).with_name("coffee-noisy-s25.png"))
