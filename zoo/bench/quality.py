"""Quality benchmark: PSNR and SSIM of several denoisers on one image set, all measured in one run.

Two modes:

- synthetic: ``dataset`` holds clean images; for each sigma every image gets AWGN from its own
  generator, ``numpy.random.default_rng([seed, round(1000 * sigma), index])`` (``index`` = the
  image's position in name order), unclipped and unquantised, the standard protocol. Models that
  use a noise level get the true sigma (as in the published CBM3D and FFDNet figures); a model
  with a noise-level map runs blind under the spec ``MODEL+blind`` (FFDNet and CBM3D then
  estimate sigma).
- real: ``noisy_dir`` holds real noisy photos and ``dataset`` their clean references, paired by
  name (see :func:`pair_key`); every model runs blind (sigma None: CBM3D and FFDNet estimate it).

The noisy input is scored too, as the row ``noisy``. Metrics follow :mod:`zoo.imaging.metrics`.
A model spec ending in ``+x8`` (``mwrcanet+x8``) runs with the self-ensemble: the mean of the 8
flips/rotations, as ``zoo denoise --ensemble`` (the "+" rows of NTIRE papers); ``+x2`` and ``+x4``
average fewer views, as ``zoo denoise --views 2`` and ``--views 4``.
A model that fails to load, or fails on an image, is skipped with a reason and the run goes on.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from registry.denoiser import Denoiser
from registry.errors import ZooError, one_line
from zoo.bench.report import environment, finite, plot, write_csv
from zoo.imaging import metrics

NOISY = "noisy"  # the label of the noisy-input row
ENSEMBLE_SUFFIXES = {"+x2": 2, "+x4": 4, "+x8": 8}  # MODEL+xN: the mean over N views (engine.VIEWS)
BLIND_SUFFIX = "+blind"  # MODEL+blind: no true sigma (noise-map models run blind; others estimate it)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
# Name endings that mark one side of a noisy/clean pair (PolyU: X_real.JPG / X_mean.JPG).
PAIR_SUFFIXES = re.compile(r"[_-](real|mean|noisy|clean|gt)$", re.IGNORECASE)
Report = Callable[[str], None]


@dataclass(frozen=True)
class QualityConfig:
    """What to benchmark; ``noisy_dir`` set means real-noise mode (``sigmas`` is then unused)."""

    models: tuple[str, ...]
    dataset: Path
    noisy_dir: Path | None = None
    sigmas: tuple[float, ...] = (15.0, 25.0, 50.0)
    seed: int = 0
    limit: int | None = None
    crop: int | None = None
    backend: str | None = None
    pair_glob: str | None = None
    precision: str = "fp32"

    @property
    def real(self) -> bool:
        return self.noisy_dir is not None

    def noise_levels(self) -> tuple[float | None, ...]:
        """The sigmas to run, or (None,) for real noise."""
        return (None,) if self.real else self.sigmas


@dataclass(frozen=True)
class Pair:
    """One test image: its clean reference and, in real-noise mode, its noisy photo."""

    name: str
    clean: Path
    noisy: Path | None = None


@dataclass(frozen=True)
class Record:
    """One model on one image at one noise level."""

    model: str
    sigma: float | None
    image: str
    psnr: float
    ssim: float
    seconds: float | None
    megapixels: float


@dataclass
class Peer:
    label: str
    denoiser: Denoiser
    ensemble: int = 1  # views averaged
    blind: bool = False  # MODEL+blind: the true sigma is withheld


@dataclass
class QualityResult:
    """Per-image records, the models that ran, and those skipped with the reason."""

    config: QualityConfig
    images: int
    models: list[dict] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> list[dict]:
        """Mean PSNR and SSIM, and seconds per megapixel, per model x noise level in run order."""
        groups: dict[tuple[str, float | None], list[Record]] = {}
        for r in self.records:
            groups.setdefault((r.model, r.sigma), []).append(r)
        return [_summarise(model, sigma, rs) for (model, sigma), rs in groups.items()]


def _summarise(model: str, sigma: float | None, rs: list[Record]) -> dict:
    timed = [r for r in rs if r.seconds is not None]
    mp = sum(r.megapixels for r in timed)
    return {
        "model": model, "noise": "awgn" if sigma is not None else "real", "sigma": sigma,
        "images": len(rs),
        "psnr": float(np.mean([r.psnr for r in rs])), "ssim": float(np.mean([r.ssim for r in rs])),
        "seconds_per_mp": sum(r.seconds for r in timed) / mp if timed else None,
    }


# -- finding images ------------------------------------------------------------------------------
def find_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, in name order."""
    if not folder.is_dir():
        raise ZooError(f"no such folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def pair_key(path: Path, glob: str | None = None) -> str | None:
    """The name a noisy photo and its clean reference share.

    Without ``glob``: the stem, lowercased, less a trailing _real/_mean/_noisy/_clean/_gt.
    With ``glob``, one pattern with a single ``*`` (e.g. ``*_real.JPG``): what the ``*`` matched,
    or None when the name does not fit the pattern.
    """
    if glob is None:
        return PAIR_SUFFIXES.sub("", path.stem).lower()
    head, _, tail = glob.partition("*")
    name = path.name
    if len(name) < len(head) + len(tail) or not (name.startswith(head) and name.endswith(tail)):
        return None
    return name[len(head):len(name) - len(tail)]


def find_pairs(config: QualityConfig) -> list[Pair]:
    """The test images, limited to the first ``config.limit`` in name order."""
    clean = find_images(config.dataset)
    pairs = _real_pairs(config, clean) if config.real else [Pair(p.stem, p) for p in clean]
    if not pairs:
        raise ZooError(f"no test images found in {config.noisy_dir or config.dataset}")
    return pairs[: config.limit] if config.limit else pairs


def _real_pairs(config: QualityConfig, clean: list[Path]) -> list[Pair]:
    noisy_glob, clean_glob = _pair_globs(config.pair_glob)
    refs = {pair_key(p, clean_glob): p for p in clean}
    pairs = []
    for noisy in find_images(config.noisy_dir):
        key = pair_key(noisy, noisy_glob)
        if key is not None and key in refs:
            pairs.append(Pair(noisy.stem, refs[key], noisy))
    return pairs


def _pair_globs(pair_glob: str | None) -> tuple[str | None, str | None]:
    """'NOISY_GLOB:CLEAN_GLOB' (e.g. '*_real.JPG:*_mean.JPG') -> the two patterns."""
    if pair_glob is None:
        return None, None
    noisy, sep, clean = pair_glob.partition(":")
    if not sep or noisy.count("*") != 1 or clean.count("*") != 1:
        raise ZooError(f"--pair-glob must look like '*_real.JPG:*_mean.JPG' (one * each side), got {pair_glob!r}")
    return noisy, clean


# -- models --------------------------------------------------------------------------------------
def load_peers(specs: tuple[str, ...], backend: str | None, report: Report,
               precision: str = "fp32") -> tuple[list[Peer], dict[str, str]]:
    """Load each model ('arch', 'arch:tag', 'arch=weights', each optionally '+x2', '+x4', '+x8'); a model that
    fails is reported and skipped. ``precision`` applies to the models whose backend runs it."""
    peers, skipped = [], {}
    for spec in specs:
        base, ensemble, blind = split_suffixes(spec)
        try:
            peers.append(Peer(spec, _load(base, backend, precision), ensemble, blind))
        except Exception as exc:  # a missing weight file or a broken plugin must not stop the bench
            skipped[spec] = one_line(exc)
            report(f"skipped {spec}: {skipped[spec]}")
    return peers, skipped


def split_suffixes(spec: str) -> tuple[str, int, bool]:
    """'mwrcanet:tag+blind+x8' -> ('mwrcanet:tag', 8 views, blind True), in either order."""
    views, blind = 1, False
    while spec.endswith((BLIND_SUFFIX, *ENSEMBLE_SUFFIXES)):
        suffix = next(s for s in (BLIND_SUFFIX, *ENSEMBLE_SUFFIXES) if spec.endswith(s))
        spec = spec[: -len(suffix)]
        if suffix == BLIND_SUFFIX:
            blind = True
        else:
            views = ENSEMBLE_SUFFIXES[suffix]
    return spec, views, blind


def _load(spec: str, backend: str | None, precision: str = "fp32") -> Denoiser:
    """``backend`` (and ``precision``) apply to the models that have it (CBM3D has numpy only;
    onnx and openvino run any architecture with a torch backend), others use their default.
    ``ARCH=WEIGHTS`` benchmarks a weight file (e.g. a training run's output) under the label ``spec``."""
    from registry.manager import get_registry
    from zoo.runtimes import supports
    from zoo.weights.loader import load
    from zoo.weights.names import parse_model

    model, _, weights = spec.partition("=")
    arch = get_registry().get(parse_model(model)[0])
    own = backend in arch.backends or backend == "auto" or supports(arch, backend)
    return load(model, backend=backend if own else None, weights=weights or None,
                precision=precision if own else "fp32")


# -- images and noise ----------------------------------------------------------------------------
def synthetic_noisy(clean: np.ndarray, sigma: float, seed: int, index: int) -> np.ndarray:
    """``clean`` + AWGN of ``sigma`` (0-255 scale), reproducible per (seed, sigma, image index)."""
    from zoo.imaging.noise import awgn

    rng = np.random.default_rng([seed, round(1000 * sigma), index])
    return awgn(clean, sigma, rng)


def center_crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size`` x ``size`` window (the whole side where the image is smaller)."""
    if not size:
        return image
    h, w = image.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[top:top + size, left:left + size]


def read_rgb(path: Path, crop: int | None = None) -> np.ndarray:
    """An RGB benchmark image as float32 in [0, 1], its N x N centre crop with ``crop``."""
    from zoo.photo.imageio import read_image

    pixels = read_image(path).pixels
    if pixels.shape[2] != 3:  # the benchmark sets are RGB; grayscale or alpha would skew SSIM
        raise ZooError(f"{path}: expected an RGB image, got {pixels.shape[2]} channels")
    return center_crop(pixels, crop)


def _cases(config: QualityConfig, pairs: list[Pair]) -> Iterator[tuple[str, float | None, np.ndarray, np.ndarray]]:
    """(image name, sigma, clean, noisy) for every image x noise level."""
    for index, pair in enumerate(pairs):
        clean = read_rgb(pair.clean, config.crop)
        if pair.noisy is not None:
            noisy = read_rgb(pair.noisy, config.crop)
            if noisy.shape != clean.shape:
                raise ZooError(f"{pair.noisy.name} is {noisy.shape[:2]} but its reference {pair.clean.name} is {clean.shape[:2]}")
            yield pair.name, None, clean, noisy
            continue
        for sigma in config.sigmas:
            yield pair.name, sigma, clean, synthetic_noisy(clean, sigma, config.seed, index)


# -- running -------------------------------------------------------------------------------------
def run_quality(config: QualityConfig, report: Report = print, advance: Callable[[], None] | None = None) -> QualityResult:
    """Run every model on every test image x noise level; ``advance`` is called after each case."""
    _check(config)
    pairs = find_pairs(config)
    peers, skipped = load_peers(config.models, config.backend, report, config.precision)
    result = QualityResult(config, len(pairs), [_describe(p) for p in peers], skipped=skipped)
    total = len(pairs) * len(config.noise_levels())
    started = time.perf_counter()
    for done, (name, sigma, clean, noisy) in enumerate(_cases(config, pairs), 1):
        result.records.append(_score(NOISY, sigma, name, clean, noisy, None))
        for peer in list(peers):
            _run_peer(peer, peers, result, (name, sigma, clean, noisy), report)
        if done == 1 and total > 1:
            _estimate(time.perf_counter() - started, total, report)
        if advance:
            advance()
    return result


def _check(config: QualityConfig) -> None:
    if config.seed < 0:
        raise ZooError(f"--seed must be 0 or more, got {config.seed}")
    if config.crop is not None and config.crop < metrics.MIN_SIDE:
        raise ZooError(f"--crop must be at least {metrics.MIN_SIDE} (the SSIM window), got {config.crop}")
    if not config.real and not config.sigmas:
        raise ZooError("give at least one --sigma, or --noisy-dir for real noise")


def _run_peer(peer: Peer, peers: list[Peer], result: QualityResult, case: tuple, report: Report) -> None:
    name, sigma, clean, noisy = case
    try:
        out, seconds = _denoise(peer, noisy, sigma)
        result.records.append(_score(peer.label, sigma, name, clean, out, seconds))
    except Exception as exc:  # one failing model must not cost the others their results
        result.skipped[peer.label] = f"failed on {name}: {one_line(exc)}"
        result.records[:] = [r for r in result.records if r.model != peer.label]
        peers.remove(peer)
        report(f"skipped {peer.label}: {result.skipped[peer.label]}")


def _denoise(peer: Peer, noisy: np.ndarray, sigma: float | None) -> tuple[np.ndarray, float]:
    from zoo.inference import engine

    start = time.perf_counter()
    given = peer.denoiser.uses_sigma and not peer.blind
    out = engine.run(peer.denoiser, noisy, sigma if given else None, ensemble=peer.ensemble)
    return out, time.perf_counter() - start


def _score(model: str, sigma: float | None, name: str, clean: np.ndarray, test: np.ndarray,
           seconds: float | None) -> Record:
    mp = clean.shape[0] * clean.shape[1] / 1e6
    return Record(model, sigma, name, metrics.psnr(clean, test), metrics.ssim(clean, test), seconds, mp)


def _estimate(first: float, total: int, report: Report) -> None:
    """Say how long the whole run will take, from the first case (CBM3D can take many minutes)."""
    eta = datetime.now() + timedelta(seconds=first * (total - 1))
    report(f"the first of {total} image x noise cases took {first:.1f} s for all models: "
           f"about {first * total / 60:.1f} min in all (done near {eta:%H:%M})")


def _describe(peer: Peer) -> dict:
    d = peer.denoiser
    return {"label": peer.label, "architecture": d.architecture, "backend": d.backend, "precision": d.precision,
            "takes_sigma": d.takes_sigma, "uses_sigma": d.uses_sigma and not peer.blind,
            "ensemble": peer.ensemble}


# -- outputs -------------------------------------------------------------------------------------
SUMMARY_FIELDS = ("model", "noise", "sigma", "images", "psnr", "ssim", "seconds_per_mp")


def write_outputs(result: QualityResult, out_dir: Path) -> list[Path]:
    """quality.csv (means), quality_images.csv (per image), quality.json (all) and, when
    matplotlib is installed, quality.png; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = result.summary()
    paths = [out_dir / n for n in ("quality.csv", "quality_images.csv", "quality.json", "quality.png")]
    write_csv(paths[0], SUMMARY_FIELDS, rows)
    write_csv(paths[1], tuple(Record.__dataclass_fields__), [asdict(r) for r in result.records])
    paths[2].write_text(json.dumps(_as_json(result, rows), indent=2) + "\n")
    try:
        plot(rows, paths[3], _title(result))
    except ImportError:  # matplotlib is optional (denoise-zoo[dev]); the numbers are already written
        return paths[:3]
    return paths


def _as_json(result: QualityResult, rows: list[dict]) -> dict:
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result.config).items()}
    return finite({
        "benchmark": "quality", "config": config, "images": result.images,
        "protocol": "zoo.imaging.metrics: float64, data_range=1, whole image, Gaussian SSIM (Wang et al.)",
        "environment": environment(), "models": result.models, "skipped": result.skipped,
        "summary": rows, "per_image": [asdict(r) for r in result.records],
    })


def _title(result: QualityResult) -> str:
    folder = result.config.noisy_dir or result.config.dataset
    noise = "real noise" if result.config.real else "AWGN"
    return f"{folder.parent.name}/{folder.name}: {result.images} images, {noise}"


