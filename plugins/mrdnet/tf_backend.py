"""MRDNet in Keras 3; layers carry the PyTorch module paths, so weights are canonical."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.sdk.keras_base import AttentionPool, KerasDenoiser, conv, model_input
from plugins.mrdnet.config import MRDNetConfig


class BroadcastLike(keras.layers.Layer):
    """Broadcast a (N, 1, 1, C) map to the spatial size of a reference (N, H, W, *) tensor."""

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        g, ref = inputs
        s = tf.shape(ref)
        return tf.broadcast_to(g, tf.stack([s[0], s[1], s[2], tf.shape(g)[3]]))

    def compute_output_shape(self, shapes: list[tuple]) -> tuple:
        g, ref = shapes
        return (ref[0], ref[1], ref[2], g[3])


def aspp(x: Any, config: MRDNetConfig, name: str) -> list[Any]:
    """Twin of torch_backend.ASPP: its branches, to be concatenated by the caller."""
    f = config.num_features
    branches = [conv(f, 1, f"{name}.point", activation="relu")(x)]
    for i, d in enumerate(config.dilations):
        branches.append(conv(f, 3, f"{name}.atrous.{i}", dilation=d, activation="relu")(x))
    if config.image_pooling != "none":
        g = AttentionPool(config.pool_kernel, name=f"{name}.pool_mean")(x)
        g = conv(f, 1, f"{name}.pool", activation="relu")(g)
        if config.pool_kernel is None:
            g = BroadcastLike(name=f"{name}.pool_broadcast")([g, x])
        branches.append(g)
    return branches


def mrdb(x: Any, config: MRDNetConfig, name: str) -> Any:
    """Twin of torch_backend.MRDB at module path ``name``."""
    feats = [x]
    for j in range(config.num_layers):
        inp = feats[0] if j == 0 else keras.layers.Concatenate(name=f"{name}.cat{j}")(feats)
        feats.append(conv(config.growth_rate, 3, f"{name}.dense.{j}", activation="relu")(inp))
    fused = keras.layers.Concatenate(name=f"{name}.cat")(feats + aspp(x, config, f"{name}.aspp"))
    return keras.layers.Add(name=f"{name}.add")([x, conv(config.num_features, 1, f"{name}.fuse")(fused)])


def mrdnet_model(config: MRDNetConfig) -> keras.Model:
    """Twin of torch_backend.MRDNetModule (see there for the structure)."""
    f = config.num_features
    inp, image = model_input(3, config)
    f1 = conv(f, 3, "sfe1")(inp)
    h, outs = conv(f, 3, "sfe2")(f1), []
    for i in range(config.num_blocks):
        h = keras.layers.Dropout(config.dropout, name=f"dropout.{i}")(mrdb(h, config, f"blocks.{i}"))
        outs.append(h)
    g = outs[0] if len(outs) == 1 else keras.layers.Concatenate(name="gff_cat")(outs)
    h = conv(f, 3, "gff_conv")(conv(f, 1, "gff_fuse")(g))
    h = keras.layers.Add(name="global_feature_skip")([h, f1])
    y = keras.layers.Add(name="global_residual")([image, conv(3, 3, "tail")(h)])
    return keras.Model(inp, y, name="mrdnet")


class MRDNetKeras(KerasDenoiser):
    """Receptive field and bytes per pixel come from the config (see Denoiser.CONFIG_METADATA)."""


def build(config: MRDNetConfig) -> MRDNetKeras:
    return MRDNetKeras(config, mrdnet_model(config))
