"""MWRCANet in Keras 3 (TensorFlow), layer for layer the twin of torch_backend.

Every layer with weights is named with its torch module path, so zoo.sdk.keras_base maps
the canonical state dict in and out (see its docstring for the rules).
"""

from __future__ import annotations

from typing import Any, Callable

import keras

from zoo.sdk.keras_base import Channels, HaarDWT, HaarIWT, KerasDenoiser, channel_attention, conv, model_input, prelu
from zoo.sdk.common import NOISE_MAP_CHANNELS
from plugins.mwrcanet.config import MWRCANetConfig, pool_kernels

Act = Callable[[str], Any]


def rca_block(x: Any, c: int, cfg: MWRCANetConfig, pool: int | None, name: str, act: Act) -> Any:
    y = conv(c, 3, f"{name}.conv1")(x)
    y = act(f"{name}.act")(y)
    y = conv(c, 1, f"{name}.conv2")(y)
    y = channel_attention(y, c, cfg.reduction, pool, f"{name}.ca")
    return keras.layers.Add(name=f"{name}.add")([x, y])


def rca_group(x: Any, c: int, cfg: MWRCANetConfig, pool: int | None, name: str, act: Act) -> Any:
    y = x
    for i in range(cfg.blocks):
        y = rca_block(y, c, cfg, pool, f"{name}.blocks.{i}", act)
    y = conv(c, 3, f"{name}.tail")(y)
    return keras.layers.Add(name=f"{name}.add")([x, y])


def build_model(cfg: MWRCANetConfig, colors: int = 3, size: int | None = None, per_pixel_alpha: bool = False) -> Any:
    """The Keras model. ``per_pixel_alpha`` (needs ``size``) rebuilds the seed's PReLUs, whose
    alpha has one value per pixel and channel: only for counting the seed's parameters."""
    act: Act = (lambda name: keras.layers.PReLU(name=name)) if per_pixel_alpha else prelu
    c1, c2, c3 = cfg.channels
    p1, p2, p3 = pool_kernels(cfg)
    x, image = model_input(colors, cfg, size)
    w0 = HaarDWT(name="dwt0")(image)
    first = w0
    if cfg.noise_map:  # the map's DWT joins the image's at the first convolution only
        level = HaarDWT(name="dwt_level")(Channels(colors, colors + NOISE_MAP_CHANNELS, name="level")(x))
        first = keras.layers.Concatenate(name="with_level")([w0, level])
    e1 = rca_group(act("down1.act")(conv(c1, 3, "down1.conv")(first)), c1, cfg, p1, "down1.group", act)
    e2 = act("down2.act")(conv(c2, 3, "down2.conv")(HaarDWT(name="dwt1")(e1)))
    e2 = rca_group(e2, c2, cfg, p2, "down2.group", act)
    m = act("down3.act")(conv(c3, 3, "down3.conv")(HaarDWT(name="dwt2")(e2)))
    m = rca_group(m, c3, cfg, p3, "middle", act)
    d2 = HaarIWT(name="iwt2")(act("up3.act")(conv(4 * c2, 3, "up3.conv")(m)))
    d2 = keras.layers.Add(name="skip2")([d2, e2])
    d1 = rca_group(d2, c2, cfg, p2, "up2.group", act)
    d1 = HaarIWT(name="iwt1")(act("up2.act")(conv(4 * c1, 3, "up2.conv")(d1)))
    d1 = keras.layers.Add(name="skip1")([d1, e1])
    y = conv(4 * colors, 3, "up1.conv")(rca_group(d1, c1, cfg, p1, "up1.group", act))
    y = HaarIWT(name="iwt0")(keras.layers.Add(name="skip0")([y, w0]))
    return keras.Model(x, y, name="mwrcanet")


class MWRCANetKeras(KerasDenoiser):
    size_multiple = 8  # three DWT levels halve the size three times


def build(config: MWRCANetConfig) -> MWRCANetKeras:
    denoiser = MWRCANetKeras(config, build_model(config, colors=config.image_channels))
    return denoiser
