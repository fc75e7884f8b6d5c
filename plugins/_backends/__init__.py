"""Shared backend bases for the built-in neural plugins (and any third-party plugin that wants them).

- :mod:`plugins._backends.common`: framework-free helpers (state-dict checks, TLC kernel sizes).
- :mod:`plugins._backends.torch_base`: ``TorchDenoiser`` wrapping an ``nn.Module``, plus blocks
  (Haar DWT/IWT, channel attention with global or local test-time pooling).
- :mod:`plugins._backends.tf_base`: ``KerasDenoiser`` wrapping a Keras 3 model whose layers are
  named after the canonical (PyTorch) module paths, plus the same blocks.

Importing this package imports no framework; import the ``*_base`` modules from backend modules only.
"""
