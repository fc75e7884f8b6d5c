"""TensorFlow (Keras 3) backend base: ``KerasDenoiser`` and blocks mirroring :mod:`zoo.sdk.torch_base`.

How to write a Keras backend that reads and writes the canonical state dict
-----------------------------------------------------------------------------
1. Build the model with the functional API on ``keras.Input((None, None, C))`` (NHWC, any size).
2. Name every layer that holds weights with the full PyTorch module path of its twin, e.g. the
   torch ``self.body[0].conv1`` becomes ``Conv2D(..., name="body.0.conv1")``. Weight-free
   layers may have any name. Names must be unique, which module paths are.
3. Use layer types :data:`RULES` knows; each maps its variables to canonical tensors:

   ====================  ===========================  ==========================================
   Keras layer           Keras variable (layout)      canonical name (PyTorch layout)
   ====================  ===========================  ==========================================
   Conv2D                kernel (kh, kw, in/g, out)   .weight (out, in/g, kh, kw): transpose 3,2,0,1
                         bias (out,)                  .bias (out,)
   DepthwiseConv2D       kernel (kh, kw, in, m)       .weight (in*m, 1, kh, kw)
   Conv2DTranspose       kernel (kh, kw, out, in)     .weight (in, out, kh, kw): transpose 3,2,0,1
   Dense                 kernel (in, out)             .weight (out, in)
   PReLU                 alpha (1, 1, C) shared       .weight (C,) (nn.PReLU(C)); reshaped
   BatchNormalization    gamma, beta, moving_*        .weight, .bias, .running_mean, .running_var
   LayerNormalization    gamma, beta                  .weight, .bias
   ====================  ===========================  ==========================================

   A custom layer with weights instead defines ``canonical_params() -> list[Param]``.
   A layer with weights that neither covers raises TypeError when the denoiser is built, so a
   mapping is never silently skipped.
4. Match torch's padding: ``padding="same"`` equals torch's ``padding=k//2`` (times the dilation)
   only for odd kernels at stride 1; otherwise pad explicitly with ``ZeroPadding2D``.
5. Prove it: the conformance suite (zoo.testing) checks parity with the torch backend to 1e-4.

Wrap the model in a ``KerasDenoiser`` subclass carrying the same class attributes as the torch one.
Inference runs through one ``tf.function`` with ``reduce_retracing`` so new image sizes reuse a
shape-generic graph; blocks below therefore read sizes with ``tf.shape`` (dynamic), never ``.shape``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from zoo.sdk.common import NOISE_LEVEL_SCALE, NOISE_MAP_CHANNELS, check_state, uses_noise_map
from zoo.sdk.sigma import EstimatesSigma
from registry.config import DenoiserConfig
from registry.denoiser import Denoiser
from registry.errors import ZooError

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Param:
    """One Keras variable and how it maps to its canonical (PyTorch) tensor."""

    name: str  # full canonical name, e.g. "body.0.conv1.weight"
    variable: Any  # keras.Variable
    to_canonical: Transform
    from_canonical: Transform


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _oihw(a: np.ndarray) -> np.ndarray:
    return a.transpose(3, 2, 0, 1)


def _hwio(a: np.ndarray) -> np.ndarray:
    return a.transpose(2, 3, 1, 0)


def _param(layer: Any, suffix: str, var: Any, to: Transform = _same, back: Transform = _same) -> Param:
    return Param(f"{layer.name}.{suffix}", var, to, back)


def _flat(var: Any) -> tuple[Transform, Transform]:
    shape = tuple(var.shape)
    return (lambda a: a.reshape(-1)), (lambda a: a.reshape(shape))


def _conv(layer: Any) -> list[Param]:
    return [_param(layer, "weight", layer.kernel, _oihw, _hwio), *_bias(layer)]


def _bias(layer: Any) -> list[Param]:
    return [_param(layer, "bias", layer.bias)] if getattr(layer, "use_bias", False) else []


def _depthwise(layer: Any) -> list[Param]:
    kh, kw, cin, mult = layer.kernel.shape
    to = lambda a: a.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None]  # noqa: E731
    back = lambda a: a[:, 0].transpose(1, 2, 0).reshape(kh, kw, cin, mult)  # noqa: E731
    return [_param(layer, "weight", layer.kernel, to, back), *_bias(layer)]


def _dense(layer: Any) -> list[Param]:
    return [_param(layer, "weight", layer.kernel, np.transpose, np.transpose), *_bias(layer)]


def _prelu(layer: Any) -> list[Param]:
    return [_param(layer, "weight", layer.alpha, *_flat(layer.alpha))]


def _batchnorm(layer: Any) -> list[Param]:
    pairs = [("weight", layer.gamma), ("bias", layer.beta),
             ("running_mean", layer.moving_mean), ("running_var", layer.moving_variance)]
    return [_param(layer, s, v) for s, v in pairs if v is not None]


def _layernorm(layer: Any) -> list[Param]:
    pairs = [("weight", layer.gamma), ("bias", layer.beta)]
    return [_param(layer, s, v) for s, v in pairs if v is not None]


# Order matters: subclasses first (Conv2DTranspose and DepthwiseConv2D are not Conv2D in Keras 3,
# but a user subclass of Conv2D should still map as a convolution).
RULES: list[tuple[type, Callable[[Any], list[Param]]]] = [
    (keras.layers.DepthwiseConv2D, _depthwise),
    (keras.layers.Conv2DTranspose, _conv),
    (keras.layers.Conv2D, _conv),
    (keras.layers.Dense, _dense),
    (keras.layers.PReLU, _prelu),
    (keras.layers.BatchNormalization, _batchnorm),
    (keras.layers.LayerNormalization, _layernorm),
]


def canonical_params(model: Any) -> dict[str, Param]:
    """Every weight of ``model`` under its canonical name (see the module docstring)."""
    params: dict[str, Param] = {}
    for layer in _leaves(model):
        for p in _layer_params(layer):
            if p.name in params:
                raise ValueError(f"two Keras variables map to canonical name {p.name!r}")
            params[p.name] = p
    return params


def _leaves(layer: Any) -> list[Any]:
    """Layers that own weights directly: custom ones with canonical_params, or known types."""
    if hasattr(layer, "canonical_params") or any(isinstance(layer, t) for t, _ in RULES):
        return [layer]
    subs = layer._flatten_layers(include_self=False, recursive=False)  # Keras 3 has no public walk
    if not subs and layer.weights:
        raise TypeError(f"no canonical mapping for Keras layer {layer.name!r} ({type(layer).__name__})")
    return [leaf for sub in subs for leaf in _leaves(sub)]


def _layer_params(layer: Any) -> list[Param]:
    if hasattr(layer, "canonical_params"):
        return layer.canonical_params()
    rule = next(fn for t, fn in RULES if isinstance(layer, t))
    return rule(layer)


class KerasDenoiser(EstimatesSigma, Denoiser):
    """A Denoiser around a Keras 3 model on NHWC float32 tensors, speaking canonical weights."""

    def __init__(self, config: DenoiserConfig, model: Any, **kwargs: Any) -> None:
        kwargs.setdefault("backend", "tensorflow")
        super().__init__(config, **kwargs)
        self.model = model
        self.params = canonical_params(model)
        self._run = tf.function(self.run_model, reduce_retracing=True)
        policy = getattr(getattr(model, "dtype_policy", None), "name", "")
        self.precision = "bf16" if policy == "mixed_bfloat16" else "fp32"

    def accelerate(self, *, precision: str = "fp32", compile: bool = False) -> None:
        """``compile`` runs the graph through XLA (``jit_compile=True``). bf16 is a property of
        the built model (Keras' mixed_bfloat16 policy): ``zoo.api.load(..., precision="bf16")``
        builds it so; here it can only be confirmed."""
        if precision != self.precision:
            raise ZooError(f"this {self.architecture or 'Keras'} model was built for {self.precision}; "
                           f"build it for {precision} with zoo.api.load(..., precision={precision!r})")
        self._run = tf.function(self.run_model, reduce_retracing=True, jit_compile=compile or None)
        self.compiled = compile

    def run_model(self, x: tf.Tensor, sigma: float | None) -> tf.Tensor:
        """Run the model on an NHWC batch; override to feed ``sigma`` to models that take it.
        With ``config.noise_map`` the model gets the map's planes after the image's channels."""
        if uses_noise_map(self.config):
            x = with_noise_map(x, sigma)
        return self.model(x, training=False)

    def forward(self, batch: np.ndarray, sigma: float | None) -> np.ndarray:
        x = tf.convert_to_tensor(np.ascontiguousarray(batch, dtype=np.float32))
        # sigma travels as a tensor so each new value does not retrace the graph
        s = None if sigma is None else tf.constant(sigma, tf.float32)
        return tf.cast(self._run(x, s), tf.float32).numpy()

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: np.ascontiguousarray(p.to_canonical(np.asarray(p.variable.numpy())))
                for k, p in self.params.items()}

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        shapes = {k: p.to_canonical(np.zeros(p.variable.shape, np.float32)).shape for k, p in self.params.items()}
        label = f"{self.architecture or type(self).__name__} ({self.backend})"
        for k in check_state(shapes, state, strict, label):
            p = self.params[k]
            p.variable.assign(p.from_canonical(np.asarray(state[k])).astype(p.variable.dtype))


def with_noise_map(x: tf.Tensor, sigma: tf.Tensor | None) -> tf.Tensor:
    """``x`` (N, H, W, C) with the noise-level map's planes appended (zoo.sdk.common.noise_map_planes);
    ``sigma`` is a float32 scalar tensor (0-255 scale) or None."""
    ones = tf.ones_like(x[..., :1])
    if sigma is None:
        level = [ones * 0.0, ones * 0.0]
    else:
        level = [ones * (tf.cast(sigma, x.dtype) / NOISE_LEVEL_SCALE), ones]
    return tf.concat([x, *level], axis=-1)


class Channels(keras.layers.Layer):
    """Channels ``start:stop`` of an NHWC tensor (the image part of an input with a noise map)."""

    def __init__(self, start: int, stop: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start, self.stop = start, stop

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x[..., self.start : self.stop]

    def compute_output_shape(self, s: tuple) -> tuple:
        return (*s[:3], self.stop - self.start)


def model_input(colors: int, config: Any, size: int | None = None) -> tuple[Any, Any]:
    """(the Keras input, its image channels): with ``config.noise_map`` the input has the map's
    planes after the ``colors`` image channels, which the first convolution sees and the global
    residual does not."""
    if not uses_noise_map(config):
        x = keras.Input((size, size, colors), name="image")
        return x, x
    x = keras.Input((size, size, colors + NOISE_MAP_CHANNELS), name="image")
    return x, Channels(0, colors, name="image_channels")(x)


def count_parameters(model: Any) -> int:
    return int(sum(np.prod(v.shape) for v in model.weights))


# -- blocks (mirror torch_base) -----------------------------------------------------------------


def haar_dwt(x: tf.Tensor) -> tf.Tensor:
    """(N, H, W, C) -> (N, H/2, W/2, 4C), bands band-major [LL, HL, LH, HH] as in torch_base."""
    a, b = x[:, 0::2, 0::2, :], x[:, 1::2, 0::2, :]
    c, d = x[:, 0::2, 1::2, :], x[:, 1::2, 1::2, :]
    ll = (a + b + c + d) * 0.5
    hl = (-a - b + c + d) * 0.5
    lh = (-a + b - c + d) * 0.5
    hh = (a - b - c + d) * 0.5
    return tf.concat([ll, hl, lh, hh], axis=-1)


def haar_iwt(x: tf.Tensor) -> tf.Tensor:
    """Inverse of :func:`haar_dwt`: (N, h, w, 4C) -> (N, 2h, 2w, C)."""
    ll, hl, lh, hh = tf.split(x, 4, axis=-1)
    a = (ll - hl - lh + hh) * 0.5
    b = (ll - hl + lh - hh) * 0.5
    c = (ll + hl - lh - hh) * 0.5
    d = (ll + hl + lh + hh) * 0.5
    # depth_to_space reads channel blocks in row-major sub-pixel order (0,0), (0,1), (1,0), (1,1)
    return tf.nn.depth_to_space(tf.concat([a, c, b, d], axis=-1), 2)


class HaarDWT(keras.layers.Layer):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return haar_dwt(x)

    def compute_output_shape(self, s: tuple) -> tuple:
        return (s[0], _half(s[1]), _half(s[2]), None if s[3] is None else 4 * s[3])


class HaarIWT(keras.layers.Layer):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return haar_iwt(x)

    def compute_output_shape(self, s: tuple) -> tuple:
        return (s[0], _twice(s[1]), _twice(s[2]), None if s[3] is None else s[3] // 4)


def _half(n: int | None) -> int | None:
    return None if n is None else n // 2


def _twice(n: int | None) -> int | None:
    return None if n is None else n * 2


def local_mean(x: tf.Tensor, kernel: int) -> tf.Tensor:
    """Twin of torch_base.local_mean (TLC local average, edge-replicated to the input size)."""
    shape = tf.shape(x)
    h, w = shape[1], shape[2]
    k1, k2 = tf.minimum(h, kernel), tf.minimum(w, kernel)
    s = _box_sum(_box_sum(x, k1, axis=1), k2, axis=2) / tf.cast(k1 * k2, x.dtype)
    s = tf.gather(s, _replicate_index(h, h - k1 + 1), axis=1)
    return tf.gather(s, _replicate_index(w, w - k2 + 1), axis=2)


def _box_sum(x: tf.Tensor, k: tf.Tensor, axis: int) -> tf.Tensor:
    c = tf.cumsum(x, axis=axis, exclusive=False)
    pad = [[0, 0]] * 4
    pad[axis] = [1, 0]
    c = tf.pad(c, pad)
    n = tf.shape(c)[axis]
    return tf.gather(c, tf.range(k, n), axis=axis) - tf.gather(c, tf.range(0, n - k), axis=axis)


def _replicate_index(full: tf.Tensor, valid: tf.Tensor) -> tf.Tensor:
    top = (full - valid) // 2
    return tf.clip_by_value(tf.range(full) - top, 0, valid - 1)


class AttentionPool(keras.layers.Layer):
    """Global average pooling (``kernel=None``) or TLC local pooling, keeping dims (N, *, *, C)."""

    def __init__(self, kernel: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel = kernel

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if self.kernel is None:
            return tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        return local_mean(x, self.kernel)

    def compute_output_shape(self, s: tuple) -> tuple:
        return (s[0], 1, 1, s[3]) if self.kernel is None else s


def channel_attention(x: Any, channels: int, reduction: int, pool_kernel: int | None, name: str) -> Any:
    """Twin of torch_base.ChannelAttention at module path ``name`` (layers NAME.reduce/.expand)."""
    hidden = max(1, channels // reduction)
    y = AttentionPool(pool_kernel, name=f"{name}.pool")(x)
    y = keras.layers.Conv2D(hidden, 1, activation="relu", name=f"{name}.reduce")(y)
    y = keras.layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}.expand")(y)
    return keras.layers.Multiply(name=f"{name}.scale")([x, y])


def conv(filters: int, kernel: int, name: str, dilation: int = 1, **kwargs: Any) -> Any:
    """Conv2D matching torch ``nn.Conv2d(..., kernel, padding=dilation * (kernel // 2))``."""
    if kernel % 2 == 0:
        raise ValueError("padding='same' matches torch only for odd kernels; pad explicitly")
    return keras.layers.Conv2D(filters, kernel, padding="same", dilation_rate=dilation, name=name, **kwargs)


def prelu(name: str) -> Any:
    """PReLU with one alpha per channel shared over space (torch ``nn.PReLU(C)``)."""
    # torch initialises alpha to 0.25 and Keras to 0: match torch so fresh models behave alike
    init = keras.initializers.Constant(0.25)
    return keras.layers.PReLU(alpha_initializer=init, shared_axes=[1, 2], name=name)
