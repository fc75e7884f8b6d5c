"""What a training run depends on (:class:`TrainConfig`), stored in checkpoints and model cards."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

class TrainConfig(BaseModel):
    """Everything a training run depends on; stored in checkpoints and model cards."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- what
    model: str = Field(description="Architecture name.")
    preset: str | None = Field(None, description="Config preset.")
    channels: str = Field("rgb", description="'rgb', or 'separate': one single-channel network for R, G, B.")
    # -- data
    data: tuple[str, ...] = Field(description="Folders of clean training photos; each is drawn in proportion to "
                                  "its pixels, and within a folder every photo equally.")
    holdout: int = Field(8, ge=1, description="Last N photos (sorted by name) of each folder held out for validation.")
    noise: str = Field("awgn:0-50", description="Noise spec, see zoo.imaging.noise.")
    patch: int = Field(96, ge=16, description="Training patch size, cut from full-size photos.")
    batch: int = Field(16, ge=1, description="Patches per step.")
    # -- optimisation
    steps: int = Field(10000, ge=1, description="Optimiser steps.")
    lr: float = Field(1e-4, gt=0, description="Initial Adam learning rate (cosine decay to lr/100).")
    loss: str = Field("l1", description="'l1' or 'l2'.")
    seed: int = Field(0, description="Seeds patches, noise and initial weights.")
    init: str | None = Field(None, description="Start from these weights (fine-tuning) instead of random ones.")
    grow: bool = Field(False, description="--init holds a smaller network of the same architecture (fewer blocks, "
                       "no noise-level map): copy it in, new input planes at zero weight and new residual "
                       "blocks as identities, so training starts from what the smaller network computes.")
    noise_map: bool = Field(False, description="Give the network a noise-level map input (AWGN noise only): "
                            "a given --sigma is then used at inference, and blind stays possible.")
    map_drop: float = Field(0.5, ge=0, le=1, description="Share of training patches whose noise level is "
                            "withheld (map planes 0), so that the network also learns to run blind.")
    map_vary: float = Field(0.0, ge=0, le=1, description="Share of training patches whose AWGN level ramps "
                            "across the patch, the map giving it per pixel: a network grown from a blind "
                            "one otherwise has little reason to read the map.")
    ema: float | None = Field(None, gt=0, lt=1, description="Keep an exponential moving average of the weights "
                              "with this decay per step (0.999 averages about the last 1,000 steps); validation "
                              "scores it (and the raw weights as val_raw_*) and the output holds it. May be "
                              "switched on when resuming a run without it: the average then starts there.")
    # -- bookkeeping
    val_every: int = Field(500, ge=1, description="Validate (and checkpoint) every N steps.")
    val_sigma: float = Field(25.0, description="AWGN sigma of the validation set for AWGN specs.")
    threads: int | None = Field(None, description="torch intra-op threads (default: torch's).")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="'auto' (CUDA when present), 'cpu' or 'cuda'.")
    precision: str = Field("fp32", pattern=r"^(fp32|bf16)$", description="'bf16' trains under autocast.")
    workers: int | None = Field(None, ge=0, description="Processes cutting patches (default: 0 on CPU, up to 8 "
                                "on CUDA). Each step's patches depend on (seed, step) alone, so the "
                                "workers never change what a step sees.")


    @field_validator("data", mode="before")
    @classmethod
    def _folders(cls, value: Any) -> Any:
        return (value,) if isinstance(value, (str, Path)) else value  # one folder, as before

    @model_validator(mode="after")
    def _map_needs_a_level(self) -> TrainConfig:
        if self.noise_map and not self.noise.startswith("awgn"):
            raise ValueError(f"--noise-map needs AWGN noise (awgn:LOW-HIGH), whose level is known; got {self.noise}")
        if self.map_vary and not self.noise_map:
            raise ValueError("--map-vary varies the level the noise map gives: add --noise-map")
        if self.grow and self.init is None:
            raise ValueError("--grow starts from smaller weights: give them with --init")
        return self


# Options that change how fast a run goes, not what it computes: a checkpoint resumes under others.
RUNTIME_OPTIONS = {"steps", "val_every", "threads", "device", "workers", "precision"}


@dataclass
class TrainState:
    step: int = 0
    wall: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    ema_from: int | None = None  # the step the weight average started at (0, or where --ema was switched on)


def architecture_config(cfg: TrainConfig) -> dict[str, Any]:
    """Config overrides a run asks for: ``--channels separate`` (one single-channel network for R,
    G and B) and ``--noise-map``."""
    return {**({"image_channels": 1} if cfg.channels == "separate" else {}),
            **({"noise_map": True} if cfg.noise_map else {})}
