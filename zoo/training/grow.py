"""Where a training run starts: random weights, weights of the same network (``--init FILE``, or
``--init ARCH:TAG`` for a pretrained tag), or a smaller network of the same architecture grown
into a larger one (``--init ... --grow``).

Growing keeps what the smaller network computes: tensors it has are copied; input planes it
lacks (a noise-level map) get zero weights; residual blocks it lacks start as identities, their
branch's last layer (the backend's ``residual_ends``) at zero. Training then only adds to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from registry.errors import UnknownModelError, WeightsError, ZooError
from zoo.training.config import TrainConfig, architecture_config


def starting_point(cfg: TrainConfig) -> Any:
    """The torch Denoiser a run starts from."""
    from zoo.weights.loader import load

    overrides = architecture_config(cfg)
    tag = _pretrained_tag(cfg)
    if not cfg.grow:
        try:
            if tag is not None:
                return load(tag, backend="torch", **overrides)
            return load(cfg.model, backend="torch", preset=cfg.preset, pretrained=cfg.init is not None,
                        weights=cfg.init, **overrides)
        except WeightsError as exc:
            if cfg.init is None:
                raise
            raise WeightsError(f"{exc} (to start a larger network from smaller weights, add --grow)") from None
    source = load(tag, backend="torch") if tag is not None else load(cfg.model, backend="torch", weights=cfg.init)
    own = {} if cfg.preset else source.config.model_dump()
    target = load(cfg.model, backend="torch", preset=cfg.preset, pretrained=False, **{**own, **overrides})
    target.load_state_dict(grown(target.state_dict(), source.state_dict(), getattr(target, "residual_ends", ()),
                                 cfg.init))
    return target


def grown(fresh: dict[str, np.ndarray], small: dict[str, np.ndarray], residual_ends: tuple[str, ...],
          source: str = "--init") -> dict[str, np.ndarray]:
    """The larger network's state: ``small`` where it has the tensor, zero-padded along the input
    channels where it has fewer, ``fresh`` for new tensors except residual ends (zero)."""
    dropped = sorted(set(small) - set(fresh))
    if dropped:
        raise ZooError(f"--grow: {source} has tensors the new network lacks ({', '.join(dropped[:3])}); "
                       "growing adds blocks or input planes, it never removes them")
    state = {}
    for name, new in fresh.items():
        old = small.get(name)
        if old is None:
            ends = len(name.split(".")) > 1 and name.split(".")[-2] in residual_ends
            state[name] = np.zeros_like(new) if ends else new
        elif old.shape == new.shape:
            state[name] = old
        elif old.ndim == new.ndim >= 2 and old.shape[0] == new.shape[0] and old.shape[2:] == new.shape[2:] \
                and old.shape[1] < new.shape[1]:
            padded = np.zeros_like(new)
            padded[:, : old.shape[1]] = old
            state[name] = padded
        else:
            raise ZooError(f"--grow: {name} is {tuple(old.shape)} in {source} and {tuple(new.shape)} in the new "
                           "network; only new blocks and new input planes can be grown (widths must match)")
    return state


def _pretrained_tag(cfg: TrainConfig) -> str | None:
    """``--init ARCH:TAG`` (a pretrained tag of the architecture being trained, not a file) as a
    model name; None for a weights reference."""
    from registry.manager import get_registry
    from zoo.weights.names import parse_model

    if cfg.init is None or Path(cfg.init).exists() or ":" not in cfg.init or "/" in cfg.init:
        return None
    name, tag = parse_model(cfg.init)
    try:
        same = get_registry().get(name).name == get_registry().get(cfg.model).name
    except UnknownModelError:
        return None
    return cfg.init if tag is not None and same else None
