"""The kit's checks of what the zoo's commands do with a plugin (mixed into ``Conformance``).

``zoo info`` (parameters and MACs on the torch module), ``zoo denoise`` over a file with tiles
(sigma given and estimated), ``zoo train`` for a few steps (torch loop, Keras fit), and ``zoo
export`` then loading the exported folder. Each runs the same code the command runs; a plugin that
would crash one fails here with an AssertionError naming the missing piece, never a traceback
from deep inside the zoo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from registry.denoiser import Denoiser
from registry.errors import ZooError
from registry.manager import ENTRY_POINT_GROUP, Registry, reset_registry
from zoo.imaging.samples import sample_image
from zoo.sdk.contract import keras_model, movable

TRAIN_STEPS = 2
KIT_SIGMA = 25.0  # AWGN added to the denoise check's photo; an estimate must come out near it


def isolate_plugin(plugin: str) -> Registry:
    """Load only the entry point ``plugin`` (strictly: a failure is raised with its traceback) and
    make it the process-wide registry; ZOO_PLUGINS is set too, so `zoo` subprocesses and later
    loads see the same. Unrelated broken plugins in the environment then cannot fail the kit."""
    from importlib.metadata import entry_points

    names = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
    if plugin not in names:
        raise AssertionError(f"no plugin {plugin!r} in the {ENTRY_POINT_GROUP!r} entry-point group (installed: "
                             f"{', '.join(names)}); pip install -e your plugin, and name its entry point, not a model")
    os.environ["ZOO_PLUGINS"] = plugin
    os.environ["ZOO_STRICT_PLUGINS"] = "1"
    registry = Registry()
    registry.load_entry_points()
    reset_registry(registry)
    return registry


def _no_sigma(where: str) -> str:
    return (f"{where}: `zoo denoise` without --sigma: takes_sigma is True but estimate_sigma gave None, so "
            "forward got sigma None; implement estimate_sigma(image) -> sigma on the 0-255 scale, or inherit "
            "zoo.sdk.EstimatesSigma (TorchDenoiser and KerasDenoiser do)")


def _crash(what: str, exc: BaseException) -> AssertionError:
    return AssertionError(f"{what} crashed with {type(exc).__name__}: {exc} (the command would show this traceback)")


class CommandChecks:
    """Mixin for ``Conformance``: needs ``arch``, ``preset``, ``config``, ``build``, ``denoiser``
    and ``where``."""

    arch: Any
    preset: str | None

    def where(self, backend: str | None = None) -> str:
        return f"{self.arch.name}/{backend or '*'}/{self.preset}"

    # -- the pieces the commands need
    def check_command_contract(self, backend: str) -> None:
        """A torch backend has ``.module`` and ``.to`` (zoo info, zoo train), a Keras backend a
        ``.model`` (zoo train --backend tensorflow, zoo convert): built on the zoo.sdk bases."""
        if not self.arch.needs_weights or backend not in ("torch", "tensorflow"):
            return
        d = self.denoiser(backend)  # type: ignore[attr-defined]
        try:
            if backend == "torch":
                movable(d, "`zoo info` (params, MACs) and `zoo train`")
            else:
                keras_model(d, "`zoo train --backend tensorflow` and `zoo convert`")
        except ZooError as exc:
            raise AssertionError(f"{self.where(backend)}: {exc}") from None

    def check_info(self) -> dict[str, float] | None:
        """What `zoo info` shows: parameters and MACs per megapixel, measured on the torch module."""
        from zoo.bench import stats

        if stats.unavailable_reason(self.arch) is not None:
            return None
        self.check_command_contract("torch")
        try:
            measured = stats.model_stats(self.arch, self.preset)
        except Exception as exc:  # noqa: BLE001  (what would reach the user as a traceback)
            raise _crash(f"{self.where('torch')}: `zoo info` (params and MACs on torch's meta device)", exc) from exc
        assert measured["params"] > 0, f"{self.where('torch')}: `zoo info` counts no parameters in .module"
        return measured

    # -- zoo denoise FILE --tile N, with and without --sigma
    def check_denoise_file(self, backend: str, tmp_dir: Path) -> dict[str, Any]:
        """A noisy PNG through the batch path of `zoo denoise`, in several tiles; ``forward`` gets
        the same sigma on every tile, a number on the 0-255 scale when the model takes one."""
        from zoo.imaging.noise import awgn
        from zoo.inference import batch, engine
        from zoo.photo.imageio import read_image, write_image

        d: Denoiser = self.denoiser(backend)  # type: ignore[attr-defined]
        plan = engine.plan_tiles(d, 4096, 4096, tile=8)
        side = plan.tile[0]  # the smallest tile the engine makes: twice the overlap
        size = (side + side // 2 + 1, side + 3)
        clean = smooth_image(size)  # noise-free, so the noise is KIT_SIGMA's alone
        noisy = np.clip(awgn(clean, KIT_SIGMA, np.random.default_rng(3)), 0, 1)
        folder = Path(tmp_dir) / f"denoise-{self.arch.name}-{backend}-{self.preset}"
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / "noisy.png"
        write_image(source, photo_of(noisy))
        report: dict[str, Any] = {}
        for given in (None, KIT_SIGMA):
            seen = self._denoise_file(d, batch, source, folder / f"out-{given}.png", given, side)
            report[f"sigmas_{'given' if given else 'estimated'}"] = seen
            self._check_sigmas(d, backend, given, seen)
        out = read_image(folder / "out-None.png").pixels
        assert out.shape == noisy.shape, f"{self.where(backend)}: `zoo denoise` wrote {out.shape}, not {noisy.shape}"
        return report

    def _denoise_file(self, d: Denoiser, batch: Any, source: Path, target: Path, sigma: float | None,
                      tile: int) -> list[Any]:
        seen: list[Any] = []
        original = d.forward

        def recording(tiles: np.ndarray, s: float | None) -> np.ndarray:
            seen.extend([s] * len(tiles))
            if s is None and d.takes_sigma:  # before the model trips over it
                raise AssertionError(_no_sigma(self.where(d.backend)))
            return original(tiles, s)

        d.forward = recording  # type: ignore[method-assign]
        what = f"{self.where(d.backend)}: `zoo denoise --tile {tile}" + (f" --sigma {sigma:g}`" if sigma else "`")
        try:
            jobs = batch.expand_inputs([str(source)])
            batch.plan_outputs(jobs, self.arch.name, target, None, True)
            failed = batch.run_jobs(d, jobs, batch.make_options(sigma=sigma, tile=tile))
        except AssertionError:
            raise
        except ZooError as exc:
            raise AssertionError(f"{what} failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001
            raise _crash(what, exc) from exc
        finally:
            del d.forward
        assert not failed, f"{what} failed: {failed[0].error}"
        assert len(seen) > 1, f"{what} ran as {len(seen)} tile(s); the kit expects several"
        return seen

    def _check_sigmas(self, d: Denoiser, backend: str, given: float | None, seen: list[Any]) -> None:
        where = f"{self.where(backend)}: `zoo denoise`"
        if not d.takes_sigma:
            return
        if given is not None:
            assert all(s == given for s in seen), f"{where} --sigma {given:g}: forward got {sorted(set(map(str, seen)))}"
            return
        assert len(set(seen)) == 1, f"{where}: forward got different sigmas on different tiles: {sorted(set(seen))[:4]}"
        s = float(seen[0])
        assert 0.4 * KIT_SIGMA <= s <= 2.5 * KIT_SIGMA, (
            f"{where}: estimate_sigma gave {s:.4g} for noise of sigma {KIT_SIGMA:g}; sigma is on the 0-255 scale")

    # -- zoo train MODEL --steps N
    def check_train(self, backend: str, tmp_dir: Path, steps: int = TRAIN_STEPS) -> dict[str, Any] | None:
        """`zoo train` for a few steps on a few generated photos (torch loop, or Keras fit for the
        tensorflow backend); the weights it writes load into a fresh instance. Returns the card."""
        from zoo.photo.imageio import write_image
        from zoo.training.config import TrainConfig
        from zoo.weights.files import load_state

        if not self.arch.needs_weights or backend not in ("torch", "tensorflow"):
            return None
        self.check_command_contract(backend)
        folder = Path(tmp_dir) / f"train-{self.arch.name}-{backend}-{self.preset}"
        data = folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        for i in range(3):
            write_image(data / f"{i}.png", photo_of(sample_image((48, 48), seed=10 + i)))
        m = max(1, int(self.denoiser(backend).size_multiple))  # type: ignore[attr-defined]
        patch = max(16, -(-32 // m) * m)
        cfg = TrainConfig(model=self.arch.name, preset=self.preset, data=(str(data),), holdout=1, patch=patch,
                          batch=2, steps=steps, val_every=steps, noise="awgn:0-50", device="cpu")
        out = folder / "run.safetensors"
        what = f"{self.where(backend)}: `zoo train --steps {steps} --backend {backend}`"
        try:
            if backend == "torch":
                from zoo.training.loop import train

                card = train(cfg, out, command=f"zoo-kit train {self.arch.name}")
            else:
                from zoo.training.keras_fit import train_keras

                card = train_keras(cfg, out, command=f"zoo-kit train {self.arch.name}")
        except (AssertionError, ZooError) as exc:
            raise AssertionError(f"{what} failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001
            raise _crash(what, exc) from exc
        fresh = self.build(backend)  # type: ignore[attr-defined]
        fresh.load_state_dict(load_state(out))
        assert out.with_suffix(".card.json").is_file(), f"{what} wrote no card"
        return card

    # -- zoo export MODEL --weights FILE DIR, then --model DIR
    def check_export(self, backend: str, tmp_dir: Path) -> float:
        """`zoo export` of the kit's weights to a folder, loaded back as ``--model DIR``: the same
        output. Returns the max abs difference."""
        from zoo.weights.files import save_state
        from zoo.weights.loader import load
        from zoo.weights.metadata import describe
        from zoo.weights.publish import export

        if not self.arch.needs_weights:
            return 0.0
        d = self.denoiser(backend)  # type: ignore[attr-defined]
        folder = Path(tmp_dir) / f"export-{self.arch.name}-{backend}-{self.preset}"
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / "kit.safetensors"
        save_state(d.state_dict(), weights, metadata=describe(self.arch.name, self.config))  # type: ignore[attr-defined]
        what = f"{self.where(backend)}: `zoo export` and `--model DIR`"
        try:
            export(self.arch.name, folder / "exported", weights=str(weights), backend=backend, overwrite=True)
            again = load(str(folder / "exported"), backend=backend)
        except ZooError as exc:
            raise AssertionError(f"{what} failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001
            raise _crash(what, exc) from exc
        image = sample_image(self.size)  # type: ignore[attr-defined]
        sigma = KIT_SIGMA if d.takes_sigma else None
        diff = float(np.max(np.abs(d.denoise(image, sigma) - again.denoise(image, sigma))))
        assert diff <= 1e-6, f"{what}: the reloaded model differs by {diff:.3g}"
        return diff

    def run_commands(self, tmp_dir: Path, train_steps: int = TRAIN_STEPS) -> dict[str, Any]:
        """Every command check, for every backend."""
        report: dict[str, Any] = {"info": self.check_info()}
        for backend in self.backends:  # type: ignore[attr-defined]
            self.check_command_contract(backend)
            report[f"denoise_{backend}"] = self.check_denoise_file(backend, tmp_dir)
            report[f"export_{backend}"] = self.check_export(backend, tmp_dir)
            if train_steps:
                report[f"train_{backend}"] = self.check_train(backend, tmp_dir, train_steps)
        return report


def smooth_image(size: tuple[int, int]) -> np.ndarray:
    """A noise-free gradient photo in [0.1, 0.9]."""
    yy, xx = np.mgrid[0:size[0], 0:size[1]] / max(size)
    return (0.1 + 0.8 * np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1)).astype(np.float32)


def photo_of(pixels: np.ndarray) -> Any:
    """A Photo of float pixels in [0, 1], as 8-bit sRGB (what a camera JPEG or PNG gives)."""
    from zoo.photo.base import Photo

    return Photo(pixels=np.asarray(pixels, np.float32), bit_depth=8)
