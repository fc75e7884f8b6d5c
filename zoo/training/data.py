"""Training data: photos from one or more folders, held-out photos, random patches with fresh
noise, and the fixed validation pairs.

Patches are cut from full-size photos (no resizing). Each step's patches and noise depend on
(seed, step) alone (:func:`batch_rng`), so workers and resumes never change what a step sees.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from registry.errors import ZooError
from zoo.imaging.noise import NoiseSpec
from zoo.sdk.common import noise_map_planes
from zoo.training.config import TrainConfig

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


def list_images(folder: str | Path) -> list[Path]:
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ZooError(f"no training images in {folder}")
    return files


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def split(files: list[Path], holdout: int) -> tuple[list[Path], list[Path]]:
    if len(files) <= holdout:
        where = f"{files[0].parent} has {len(files)}" if files else "there are none"
        raise ZooError(f"need more than {holdout} photos to hold {holdout} out for validation, and {where}: "
                       f"pass --holdout {max(1, len(files) // 5)} (or fewer), or add photos")
    return files[:-holdout], files[-holdout:]


def split_folders(folders: tuple[str, ...], holdout: int) -> tuple[list[list[Path]], list[Path]]:
    """Each folder's training photos, and the last ``holdout`` photos of every folder for validation."""
    pairs = [split(list_images(folder), holdout) for folder in folders]
    return [train for train, _ in pairs], [p for _, val in pairs for p in val]


def load_sampler(train: list[list[Path]], cfg: TrainConfig, spec: NoiseSpec) -> PatchSampler:
    return PatchSampler([[read_rgb(p) for p in files] for files in train], cfg.patch, spec,
                        cfg.map_drop if cfg.noise_map else None, cfg.map_vary)


class PatchSampler:
    """Random patches of full-size photos with random flips/rotations and fresh noise each draw.

    ``images`` is one list of photos, or a list of such lists (one per folder). A folder is drawn
    with probability proportional to its pixels, then a photo of it uniformly; with one folder no
    folder is drawn, so the random stream is the one single-folder runs have always used.

    ``map_drop`` set (a probability) appends the noise-level map's planes to each noisy patch
    (zoo.sdk.common.noise_map_planes) with the patch's sigma, withheld with that probability.
    ``map_vary`` (a probability) gives a patch spatially varying AWGN instead: its level ramps
    between two levels of the spec's range in a random direction, and the map holds it per pixel.
    A blind network can only estimate such a level locally, so the map is worth reading.
    """

    def __init__(self, images: list[np.ndarray] | list[list[np.ndarray]], patch: int, noise: NoiseSpec,
                 map_drop: float | None = None, map_vary: float = 0.0):
        groups = images if images and isinstance(images[0], list) else [images]
        small = [i for group in groups for i in group if min(i.shape[:2]) < patch]
        if small:
            raise ZooError(f"{len(small)} training images are smaller than the {patch}px patch")
        pixels = np.array([sum(i.shape[0] * i.shape[1] for i in group) for group in groups], dtype=np.float64)
        self.groups, self.share = groups, pixels / pixels.sum()
        self.patch, self.noise, self.map_drop, self.map_vary = patch, noise, map_drop, map_vary

    def batch(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` noisy/clean pairs drawn from ``rng`` (the trainers pass :func:`batch_rng`)."""
        pairs = [self._one(rng) for _ in range(n)]
        noisy = np.stack([p[0] for p in pairs])
        if self.map_drop is not None:  # drawn after the patches: runs without a map see the same stream
            withheld = rng.random(n) < self.map_drop
            planes = []
            for i, ((_, clean, sigma), drop) in enumerate(zip(pairs, withheld)):
                if self.map_vary and rng.random() < self.map_vary:
                    sigma = level_ramp(rng, clean.shape[:2], self.noise.sigma)
                    noisy[i] = clean + rng.standard_normal(clean.shape, dtype=np.float32) * (sigma / 255.0)[..., None]
                planes.append(noise_map_planes((1, *clean.shape[:2]), None if drop else sigma)[0])
            noisy = np.concatenate([noisy, np.stack(planes)], axis=3)
        return noisy, np.stack([p[1] for p in pairs])

    def _one(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        group = self.groups[rng.choice(len(self.groups), p=self.share)] if len(self.groups) > 1 else self.groups[0]
        img = group[rng.integers(len(group))]
        y = rng.integers(img.shape[0] - self.patch + 1)
        x = rng.integers(img.shape[1] - self.patch + 1)
        clean = dihedral(img[y : y + self.patch, x : x + self.patch], int(rng.integers(8)))
        clean = clean.astype(np.float32) / 255.0
        noisy, sigma = self.noise.apply(clean, rng)
        return noisy, clean, sigma


def level_ramp(rng: np.random.Generator, size: tuple[int, int], levels: tuple[float, float]) -> np.ndarray:
    """An HxW float32 noise level going linearly from one level to another (both drawn from
    ``levels``) across the patch, in a random direction."""
    h, w = size
    start, end = rng.uniform(*levels, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return (start + (end - start) * t).astype(np.float32)


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 flips/rotations of a square patch."""
    img = np.rot90(img, k % 4)
    return np.ascontiguousarray(img[:, ::-1] if k >= 4 else img)


def validation_set(images: list[np.ndarray], spec: NoiseSpec, val_sigma: float, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed noisy/clean pairs: AWGN at ``val_sigma`` for AWGN specs, seeded camera noise otherwise."""
    fixed = NoiseSpec("awgn", (val_sigma, val_sigma)) if spec.kind == "awgn" else spec
    pairs = []
    for i, img in enumerate(images):
        clean = img.astype(np.float32) / 255.0
        pairs.append((fixed.apply(clean, np.random.default_rng([seed, 1000 + i]))[0], clean))
    return pairs


def evaluate(denoise: Callable[[np.ndarray], np.ndarray], pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Mean PSNR/SSIM (zoo.imaging.metrics) of ``denoise`` over noisy/clean pairs."""
    from zoo.imaging.metrics import psnr, ssim  # the bench's protocol, so card and bench numbers compare

    outs = [(clean, denoise(noisy)) for noisy, clean in pairs]
    return {"psnr": float(np.mean([psnr(c, o) for c, o in outs])), "ssim": float(np.mean([ssim(c, o) for c, o in outs]))}


def batch_rng(cfg: TrainConfig, step: int) -> np.random.Generator:
    """The patches and noise of step ``step`` depend on (seed, step) alone: a resumed run, or one
    with any number of workers, sees the same batches as an uninterrupted one."""
    return np.random.default_rng([cfg.seed, step])


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Cosine decay from lr to lr/100 over the run."""
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, cfg.steps) / cfg.steps)))


def make_output_folder(out: Path) -> None:
    """Create ``out``'s folder before training, so that a mistyped path fails at once rather than
    when the first checkpoint is written."""
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create the output folder {Path(out).parent}: {exc.strerror or exc}") from None


def inference(denoiser: Any, sigma: float | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Whole-image inference through the tiled engine, as `zoo denoise` runs it (for validation)."""
    from zoo.inference import engine

    return lambda noisy: engine.run(denoiser, noisy, sigma)


def validate(denoiser: Any, pairs: list[tuple[np.ndarray, np.ndarray]], cfg: TrainConfig) -> dict[str, float]:
    """Validation metrics: blind (``psnr``, ``ssim``), and for a noise-map run also with the
    validation sigma given (``given_psnr``, ``given_ssim``)."""
    metrics = evaluate(inference(denoiser), pairs)
    if cfg.noise_map:
        given = evaluate(inference(denoiser, cfg.val_sigma), pairs)
        metrics.update({f"given_{k}": v for k, v in given.items()})
    return metrics
