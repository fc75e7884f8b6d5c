"""EDSR-denoise in Keras 3; layers carry the PyTorch module paths, so weights are canonical."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.sdk.keras_base import KerasDenoiser, conv, model_input
from plugins.edsr.config import EDSRConfig


class TorchPixelShuffle(keras.layers.Layer):
    """``torch.nn.functional.pixel_shuffle`` on NHWC: channel ``c * r * r + i * r + j`` goes to
    sub-pixel (i, j) of output channel c.

    ``tf.nn.depth_to_space`` orders channels the other way round (``(i * r + j) * C + c``), so
    using it would silently scramble canonical weights of the ``upsample`` convolution.
    """

    def __init__(self, scale: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, x: tf.Tensor) -> tf.Tensor:
        r, s = self.scale, tf.shape(x)
        n, h, w, c = s[0], s[1], s[2], s[3] // (self.scale * self.scale)
        y = tf.reshape(x, [n, h, w, c, r, r])
        y = tf.transpose(y, [0, 1, 4, 2, 5, 3])  # n, h, i, w, j, c
        return tf.reshape(y, [n, h * r, w * r, c])

    def compute_output_shape(self, s: tuple) -> tuple:
        r = self.scale
        up = lambda n: None if n is None else n * r  # noqa: E731
        return (s[0], up(s[1]), up(s[2]), None if s[3] is None else s[3] // (r * r))


def res_block(x: Any, features: int, res_scale: float, name: str) -> Any:
    """Twin of torch_backend.ResBlock at module path ``name``."""
    y = conv(features, 3, f"{name}.conv1", activation="relu")(x)
    y = conv(features, 3, f"{name}.conv2")(y)
    y = keras.layers.Rescaling(res_scale, name=f"{name}.scale")(y)
    return keras.layers.Add(name=f"{name}.add")([x, y])


def edsr_model(config: EDSRConfig) -> keras.Model:
    """Twin of torch_backend.EDSRModule (see there for the structure)."""
    f = config.num_features
    inp, image = model_input(3, config)
    h = conv(f, 3, "head")(inp)
    b = h
    for i in range(config.num_blocks):
        b = res_block(b, f, config.res_scale, f"body.{i}")
    h = keras.layers.Add(name="long_skip")([h, conv(f, 3, "body_tail")(b)])
    u = TorchPixelShuffle(2, name="shuffle")(conv(4 * f, 3, "upsample")(h))
    u = keras.layers.AveragePooling2D(2, name="pool")(u)
    y = conv(3, 3, "tail")(u)
    if config.global_residual:
        y = keras.layers.Add(name="global_residual")([image, y])
    return keras.Model(inp, y, name="edsr")


class EDSRKeras(KerasDenoiser):
    """Receptive field and bytes per pixel come from the config (see Denoiser.CONFIG_METADATA)."""


def build(config: EDSRConfig) -> EDSRKeras:
    return EDSRKeras(config, edsr_model(config))
