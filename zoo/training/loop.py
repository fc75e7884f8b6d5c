"""The PyTorch training loop: Adam with cosine decay, checkpoints, resume, validation.

PyTorch is the main training backend; Keras ``fit`` is offered too (zoo.training.keras_fit).
Both share the data (zoo.training.data) and write the same weights and card (zoo.training.card).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from registry.errors import ZooError
from zoo.atomic import atomic_path
from zoo.imaging.noise import NoiseSpec
from zoo.training import parallel
from zoo.training.card import finish
from zoo.training.config import RUNTIME_OPTIONS, TrainConfig, TrainState
from zoo.training.data import (PatchSampler, batch_rng, load_sampler, lr_at, make_output_folder, read_rgb, split_folders,
                               validate, validation_set)
from zoo.training.grow import starting_point

def train(cfg: TrainConfig, out: Path, resume: bool = False, on_step: Callable[[int, dict[str, float]], None] | None = None,
          command: str = "", group: parallel.Group | None = None) -> dict[str, Any]:
    """Train with PyTorch; checkpoint to ``out.ckpt`` and finish with ``out`` (.safetensors) + card.

    ``group``: this process's rank among several (zoo.training.parallel; default: torchrun's
    environment, else one process). Only rank 0 reports steps, checkpoints and writes the card;
    the other ranks return an empty dict."""
    import torch

    group = group or parallel.from_env()
    parallel.check_batch(cfg.batch, group.world)
    device = resolve_device(cfg.device)
    if device.type == "cuda" and group.world > 1:
        device = torch.device("cuda", group.local_rank)
    parallel.join(group, device)
    try:
        return _train(cfg, out, resume, on_step if group.main else None, command, group, device)
    finally:
        parallel.leave(group)


def _train(cfg: TrainConfig, out: Path, resume: bool, on_step: Any, command: str, group: parallel.Group,
           device: Any) -> dict[str, Any]:
    import torch

    make_output_folder(out)
    if cfg.threads or group.local_world > 1 and device.type == "cpu":  # processes on one machine share its cores
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // group.local_world))
    torch.manual_seed(cfg.seed)
    denoiser = starting_point(cfg)
    from zoo.sdk import movable

    module = movable(denoiser, "`zoo train`").to(device).module.train()
    optim = torch.optim.Adam(module.parameters(), lr=cfg.lr)
    average = weight_average(module, cfg.ema)
    state = TrainState(ema_from=0 if cfg.ema else None)
    ckpt = Path(out).with_suffix(".ckpt")
    payload = parallel.from_main(_read_checkpoint(ckpt) if resume and group.main and ckpt.exists() else None, group)
    if payload is not None:
        state = _apply_checkpoint(payload, ckpt, cfg, module, optim, average)
    train_files, val_files = split_folders(cfg.data, cfg.holdout)
    spec = NoiseSpec.parse(cfg.noise)
    sampler = load_sampler(train_files, cfg, spec)
    val = validation_set([read_rgb(p) for p in val_files], spec, cfg.val_sigma, cfg.seed)
    loss_fn = torch.nn.L1Loss() if cfg.loss == "l1" else torch.nn.MSELoss()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    run = _Run(cfg, module, optim, loss_fn, autocast, device, state, time.perf_counter() - state.wall, ckpt,
               group, parallel.wrap(module, group, device), average)
    try:
        _loop(run, sampler, lambda: validate(denoiser, val, cfg), on_step)
    except KeyboardInterrupt:  # Ctrl-C keeps the steps done so far; the step in progress is redone
        if not group.main:
            raise
        state.wall = time.perf_counter() - run.start
        _save_checkpoint(ckpt, cfg, module, optim, state, average)
        raise TrainingInterrupted(state.step, ckpt) from None
    if average is not None:  # the output holds the average
        module.load_state_dict(average.module.state_dict())
    module.eval()
    if not group.main:
        return {}
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    hardware += f", {group.world} processes (DDP)" if group.world > 1 else ""
    return finish(denoiser, cfg, Path(out), state, train_files, val_files, command, hardware)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint was written: ``step`` steps are kept in ``checkpoint``."""

    def __init__(self, step: int, checkpoint: Path) -> None:
        super().__init__(f"interrupted at step {step}; checkpoint {checkpoint}")
        self.step, self.checkpoint = step, checkpoint


@dataclass
class _Run:
    """What the loop works on."""

    cfg: TrainConfig
    module: Any
    optim: Any
    loss_fn: Any
    autocast: Any
    device: Any
    state: TrainState
    start: float
    ckpt: Path
    group: parallel.Group = field(default_factory=parallel.Group)
    model: Any = None  # what the steps run: the module, or DDP over it across processes
    average: Any = None  # torch.optim.swa_utils.AveragedModel of the module, with --ema


def _loop(run: _Run, sampler: PatchSampler, validate: Callable[[], dict[str, float]], on_step: Any) -> None:
    """The optimiser steps from ``state.step`` to ``cfg.steps``, validating and checkpointing."""
    cfg, module, optim, state = run.cfg, run.module, run.optim, run.state
    running = []
    for noisy, clean in _step_batches(sampler, cfg, state.step, run.device, run.group):
        for group in optim.param_groups:
            group["lr"] = lr_at(cfg, state.step)
        optim.zero_grad(set_to_none=True)
        loss = gradients(run.model or module, run.loss_fn, noisy, clean, run.autocast)
        optim.step()
        if run.average is not None:
            run.average.update_parameters(module)
        state.step += 1
        running.append(parallel.mean(loss, run.group))
        metrics = {"loss": float(np.mean(running[-50:]))}
        if run.group.main and (state.step % cfg.val_every == 0 or state.step == cfg.steps):
            module.eval()
            metrics.update(_scores(run, validate))
            module.train()
            state.wall = time.perf_counter() - run.start
            state.history.append({"step": state.step, **metrics, "wall_s": round(state.wall, 1)})
            _save_checkpoint(run.ckpt, cfg, module, optim, state, run.average)
        if on_step:
            on_step(state.step, metrics)


def gradients(model: Any, loss_fn: Any, noisy: Any, clean: Any, autocast: Any = None) -> float:
    """Forward and backward of one (share of a) batch; the gradients accumulate in ``model``
    (averaged over the ranks when it is DDP). Returns the loss."""
    with autocast or contextlib.nullcontext():
        loss = loss_fn(model(noisy).float(), clean)
    loss.backward()
    return loss.item()


def weight_average(module: Any, decay: float | None) -> Any:
    """With ``--ema DECAY``: torch's AveragedModel keeping an exponential moving average of the
    module's weights (and buffers), updated after every optimiser step; else None."""
    if decay is None:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _scores(run: _Run, validate: Callable[[], dict[str, float]]) -> dict[str, float]:
    """Validation metrics: of the weights being trained, or with --ema of their average
    (``val_*``, what the output will hold) and of the raw weights (``val_raw_*``)."""
    if run.average is None:
        return {f"val_{k}": v for k, v in validate().items()}
    raw = validate()
    kept = {k: v.detach().clone() for k, v in run.module.state_dict().items()}
    run.module.load_state_dict(run.average.module.state_dict())
    try:
        averaged = validate()
    finally:
        run.module.load_state_dict(kept)
    return {**{f"val_{k}": v for k, v in averaged.items()}, **{f"val_raw_{k}": v for k, v in raw.items()}}


def resolve_device(name: str) -> Any:
    """The torch device for ``--device``: 'auto' is CUDA when torch sees a GPU, else the CPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ZooError(f"--device {name}: this torch build sees no CUDA GPU")
        torch.backends.cudnn.benchmark = True  # patches have one shape: pick the fastest kernels once
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    return torch.device(name)


def _step_batches(sampler: PatchSampler, cfg: TrainConfig, first: int, device: Any,
                  group: parallel.Group = parallel.Group()) -> Any:
    """(noisy, clean) NCHW channels-last tensors on ``device`` for steps ``first``..``cfg.steps``,
    cut by torch DataLoader workers (forked, so the decoded photos are shared, not copied); with
    several processes, this rank's share of each step's batch."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    class Steps(Dataset):
        def __len__(self) -> int:
            return max(0, cfg.steps - first)

        def __getitem__(self, i: int) -> tuple[Any, Any]:
            arrays = _to_model(parallel.shard(sampler.batch(cfg.batch, batch_rng(cfg, first + i)), group), cfg)
            return tuple(torch.from_numpy(a).permute(0, 3, 1, 2) for a in arrays)

    cuda = device.type == "cuda"
    workers = cfg.workers if cfg.workers is not None else (min(8, (os.cpu_count() or 2) - 1) if cuda else 0)
    loader = DataLoader(Steps(), batch_size=None, shuffle=False, num_workers=workers, pin_memory=cuda,
                        prefetch_factor=4 if workers else None)
    for noisy, clean in loader:
        yield tuple(t.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last) for t in (noisy, clean))


def _to_model(batch: tuple[np.ndarray, np.ndarray], cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """For single-channel training, each colour channel is its own training image."""
    if cfg.channels != "separate":
        return batch
    return tuple(np.ascontiguousarray(np.moveaxis(a, 3, 1).reshape(-1, *a.shape[1:3], 1)) for a in batch)


def _save_checkpoint(path: Path, cfg: TrainConfig, module: Any, optim: Any, state: TrainState,
                     average: Any = None) -> None:
    import torch

    payload = {"model": module.state_dict(), "optim": optim.state_dict(), "step": state.step, "wall": state.wall,
               "history": json.dumps(state.history), "config": cfg.model_dump_json()}
    if average is not None:
        payload.update(average=average.state_dict(), ema_from=state.ema_from)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _read_checkpoint(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)  # our own file, still no unpickling


def _apply_checkpoint(payload: dict, path: Path, cfg: TrainConfig, module: Any, optim: Any,
                      average: Any = None) -> TrainState:
    """Load a checkpoint's weights, optimiser state and weight average; the process count is not
    part of it (each step's batch is the same whatever the count), so any count that divides
    --batch resumes it. --ema may be switched on for a run written without it: the average
    starts from the checkpoint's weights."""
    saved = TrainConfig.model_validate_json(payload["config"])
    apart = RUNTIME_OPTIONS | {"ema"}  # --ema is checked on its own below
    if saved.model_dump(exclude=apart) != cfg.model_dump(exclude=apart):
        raise ZooError(f"{path} was written by a different training configuration; remove it or match the options")
    if saved.ema is not None and saved.ema != cfg.ema:
        raise ZooError(f"{path} averages its weights with --ema {saved.ema:g}: resume it with the same --ema")
    module.load_state_dict(payload["model"])
    optim.load_state_dict(payload["optim"])
    ema_from = None
    if average is not None:
        if "average" in payload:
            average.load_state_dict(payload["average"])
            ema_from = payload["ema_from"]
        else:  # switched on here: the first update copies the weights just loaded
            ema_from = payload["step"]
    return TrainState(payload["step"], payload["wall"], json.loads(payload["history"]), ema_from)
