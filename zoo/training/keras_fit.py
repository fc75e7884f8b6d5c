"""Training with Keras ``fit`` (TensorFlow backend), writing the same canonical weights and card.

The torch loop (:mod:`zoo.training.loop`) is the main path; this one shows that a Keras user can train a
zoo architecture with the tools they know, and that the result loads in the PyTorch backend. It
shares the data pipeline, noise, schedule, validation and card with the torch loop; it does not
resume from checkpoints. Imported only when ``zoo train --backend tensorflow`` runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from registry.errors import ZooError
from zoo.imaging.noise import NoiseSpec
from zoo.training.card import finish
from zoo.training.config import TrainConfig, TrainState, architecture_config
from zoo.training.data import (PatchSampler, batch_rng, load_sampler, make_output_folder, read_rgb, split_folders,
                               validate, validation_set)


def train_keras(cfg: TrainConfig, out: Path, on_step: Callable[[int, dict[str, float]], None] | None = None,
                command: str = "") -> dict[str, Any]:
    """Train ``cfg.model`` with ``keras.Model.fit``; see :func:`zoo.training.loop.train` for the outputs."""
    from zoo.weights.loader import load

    if cfg.precision != "fp32":
        raise ZooError("--precision bf16 is offered by the torch backend only")
    make_output_folder(out)
    keras.utils.set_random_seed(cfg.seed)
    denoiser = load(cfg.model, backend="tensorflow", preset=cfg.preset, pretrained=False, **architecture_config(cfg))
    train_files, val_files = split_folders(cfg.data, cfg.holdout)
    spec = NoiseSpec.parse(cfg.noise)
    sampler = load_sampler(train_files, cfg, spec)
    val = validation_set([read_rgb(p) for p in val_files], spec, cfg.val_sigma, cfg.seed)
    state = TrainState(ema_from=0 if cfg.ema else None)
    from zoo.sdk import keras_model

    model = keras_model(denoiser, "`zoo train --backend tensorflow`")
    # --ema: Keras' own weight average, which fit() writes into the model when it ends
    optimizer = keras.optimizers.Adam(CosineSchedule(cfg), use_ema=cfg.ema is not None, ema_momentum=cfg.ema or 0.99)
    model.compile(optimizer=optimizer, loss="mae" if cfg.loss == "l1" else "mse")
    progress = Progress(cfg, denoiser, val, state, on_step)
    model.fit(Patches(sampler, cfg), epochs=1, steps_per_epoch=cfg.steps, verbose=0, callbacks=[progress])
    if cfg.ema is not None:  # the steps scored the raw weights (val_raw_*); now the average the output holds
        state.history[-1].update({f"val_{k}": v for k, v in validate(denoiser, val, cfg).items()})
    return finish(denoiser, cfg, Path(out), state, train_files, val_files, command)


class CosineSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The torch loop's schedule (zoo.training.loop.lr_at), so both backends train alike."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg

    def __call__(self, step):
        frac = tf.minimum(tf.cast(step, tf.float32) / self.cfg.steps, 1.0)
        return self.cfg.lr * (0.01 + 0.99 * 0.5 * (1 + tf.cos(np.pi * frac)))


class Patches(keras.utils.PyDataset):
    """``cfg.steps`` batches of fresh noisy/clean patches."""

    def __init__(self, sampler: PatchSampler, cfg: TrainConfig):
        super().__init__()
        self.sampler, self.cfg = sampler, cfg

    def __len__(self) -> int:
        return self.cfg.steps

    def __getitem__(self, index: int):
        return self.sampler.batch(self.cfg.batch, batch_rng(self.cfg, index))


class Progress(keras.callbacks.Callback):
    """Counts steps, validates every ``val_every`` and reports to ``on_step``."""

    def __init__(self, cfg: TrainConfig, denoiser: Any, val: list, state: TrainState, on_step: Callable | None):
        super().__init__()
        self.cfg, self.denoiser, self.val, self.state, self.on_step = cfg, denoiser, val, state, on_step
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.state.step += 1
        metrics = {"loss": float((logs or {}).get("loss", np.nan))}
        if self.state.step % self.cfg.val_every == 0 or self.state.step == self.cfg.steps:
            scored = "val_raw_" if self.cfg.ema is not None else "val_"  # Keras averages out of sight until the end
            metrics.update({f"{scored}{k}": v for k, v in validate(self.denoiser, self.val, self.cfg).items()})
            self.state.wall = time.perf_counter() - self.start
            self.state.history.append({"step": self.state.step, **metrics})
        if self.on_step:
            self.on_step(self.state.step, metrics)
