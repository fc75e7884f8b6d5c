"""A test-only architecture with real weight tensors and a numpy backend (no framework needed).

``toynet`` computes ``x + 0.1 * tanh(x W1^T + b) W2^T`` per pixel, so different weights give
different outputs and a wrong file is visible. Registered in-process by :func:`install`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from zoo.sdk import check_state
from registry.manager import Registry, reset_registry
from zoo import Architecture, Denoiser, DenoiserConfig, PretrainedWeights, hookimpl


class ToyConfig(DenoiserConfig):
    hidden: int = Field(4, ge=1, description="Width of the hidden per-pixel layer.")

    presets: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"hidden": 4}, "wide": {"hidden": 8}}
    default_preset: ClassVar[str | None] = "tiny"


def random_state(hidden: int = 4, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "mix.weight": rng.normal(0, 1, (hidden, 3)).astype(np.float32),
        "mix.bias": rng.normal(0, 0.1, (hidden,)).astype(np.float32),
        "out.weight": rng.normal(0, 1, (3, hidden)).astype(np.float32),
    }


class ToyDenoiser(Denoiser):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.params = {k: np.zeros_like(v) for k, v in random_state(config.hidden).items()}

    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        p = self.params
        hidden = np.tanh(batch @ p["mix.weight"].T + p["mix.bias"])
        return batch + 0.1 * hidden @ p["out.weight"].T

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        expected = {k: v.shape for k, v in self.params.items()}
        for name in check_state(expected, state, strict, f"toynet ({self.backend})"):
            self.params[name] = np.asarray(state[name], dtype=np.float32)


def build(config: ToyConfig) -> ToyDenoiser:
    return ToyDenoiser(config)


class ToyPlugin:
    def __init__(self, pretrained: tuple[PretrainedWeights, ...] = ()) -> None:
        self.pretrained = pretrained

    @hookimpl
    def register_architectures(self, register) -> None:
        register(Architecture(
            name="toynet", aliases=("toy",), description="test-only per-pixel net", config=ToyConfig,
            backends={"numpy": "tests.toyplugin:build"}, pretrained=self.pretrained,
            default_tag=self.pretrained[0].tag if self.pretrained else None,
        ))


def install(*pretrained: PretrainedWeights) -> Registry:
    """Make a registry holding only toynet (with these cards) the process-wide one."""
    registry = Registry()
    registry.register_plugin(ToyPlugin(tuple(pretrained)), name="toy")
    assert "toynet" in registry.architectures, registry.plugins
    reset_registry(registry)
    return registry
