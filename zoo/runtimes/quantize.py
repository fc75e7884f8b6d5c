"""int8: post-training static quantisation of a runtime Denoiser's graph (ONNX Runtime's quantiser).

The fp32 graph (zoo.runtimes.graphs) is quantised to QDQ form: convolution weights int8 per
output channel, activations uint8 per tensor, ranges calibrated (MinMax) on noisy patches.
Layers stay in float where int8 costs too much: the first and last convolution (they see the image
itself) and every convolution in an attention or image-pooling branch (1x1 layers on pooled
statistics, where rounding moves every pixel's gain; found by name and by place in the graph:
:func:`kept_in_float`); element-wise operations stay float. Both
runtimes run the QDQ graph: ONNX Runtime with its int8 kernels, OpenVINO by folding the QDQ
pairs into its own int8 (VNNI/AMX) convolutions.

Calibration patches: ``ZOO_CALIBRATION`` (a folder of images; its first 16, centre-cropped) when
set, else the zoo's synthetic sample images with Gaussian noise (sigma 5-50) and the golden real
noise pair: the training patches themselves are not shipped. The quantised graph is cached beside
the fp32 one, keyed the same way (weights sha256, config, traced size) plus the calibration.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from registry.errors import BackendUnavailableError
from zoo.atomic import atomic_path
from zoo.runtimes import graphs

PATCHES = 8
KEEP_FLOAT = ("/ca/", "/pool", "attention")  # node-name parts: attention and pooling branches


POOLS = {"GlobalAveragePool", "ReduceMean", "AveragePool"}
PASS_THROUGH = {"Pad", "Relu", "Identity", "Reshape", "Cast", "Expand", "Slice"}  # on the way to or from a branch


def kept_in_float(model: Any) -> list[str]:
    """Names of the Conv nodes that stay float: the first and last, and those of attention and
    pooling branches. Those are found by their node names (the dynamic export names them after
    the module paths) and by their place in the graph, for the static exports whose names are
    generic: a Conv that reads pooled statistics, or whose output gates through a Sigmoid."""
    nodes = list(model.graph.node)
    producer = {out: n for n in nodes for out in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in nodes:
        for name in n.input:
            consumers.setdefault(name, []).append(n)

    def reads_pool(node: Any, depth: int = 4) -> bool:
        sources = [producer[i] for i in node.input[:1] if i in producer]
        return any(s.op_type in POOLS or (depth and s.op_type in PASS_THROUGH and reads_pool(s, depth - 1))
                   for s in sources)

    def gates(node: Any, depth: int = 3) -> bool:
        after = [c for out in node.output for c in consumers.get(out, [])]
        return any(c.op_type in ("Sigmoid", "HardSigmoid") or (depth and c.op_type in PASS_THROUGH | {"Conv"}
                   and gates(c, depth - 1)) for c in after)

    convs = [n for n in nodes if n.op_type == "Conv"]
    keep = {n.name for n in convs[:1] + convs[-1:]}
    keep |= {n.name for n in convs if any(k in n.name for k in KEEP_FLOAT) or reads_pool(n) or gates(n, 1)}
    return [n.name for n in convs if n.name in keep]


def int8_graph(denoiser: Any, h: int, w: int) -> Path:
    """The cached int8 graph for h x w inputs of a RuntimeDenoiser, quantised first when missing."""
    fp32 = graphs.graph_for(denoiser.torch, denoiser.weights_sha256, h, w, denoiser.min_side)
    size = graphs.traced_size(h, w, denoiser.min_side)
    tag = hashlib.sha256(os.environ.get("ZOO_CALIBRATION", "synthetic").encode()).hexdigest()[:6]
    path = fp32.with_name(fp32.name.replace("-fp32.onnx", f"-int8-{tag}.onnx"))
    if not path.is_file():
        quantise(fp32, path, calibration_batches(denoiser, size))
    return path


def quantise(src: Path, dst: Path, batches: list[np.ndarray]) -> Path:
    """QDQ int8 graph of ``src`` at ``dst`` (see the module docstring)."""
    try:
        import onnx
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
    except ImportError as exc:
        raise BackendUnavailableError("int8 needs onnxruntime's quantiser: pip install 'denoise-zoo[onnx]'") from exc
    model = onnx.load(str(src))
    name = model.graph.input[0].name
    keep = kept_in_float(model)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items: Iterator[np.ndarray] = iter(batches)

        def get_next(self) -> dict | None:
            item = next(self.items, None)
            return None if item is None else {name: item}

    with atomic_path(dst) as tmp:
        try:
            quantize_static(str(src), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=["Conv"], nodes_to_exclude=keep,
                            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        except Exception as exc:
            raise BackendUnavailableError(f"int8 quantisation of {src.name} failed: {graphs._first_line(exc)}") from exc
    return dst


def calibration_batches(denoiser: Any, size: tuple[int, int]) -> list[np.ndarray]:
    """NCHW float32 patches of the graph's traced size (see the module docstring)."""
    side = denoiser.min_side
    h, w = (max(side, 256),) * 2 if size == (side, side) else size  # a dynamic graph: any size >= side
    folder = os.environ.get("ZOO_CALIBRATION")
    images = _folder_images(Path(folder), h, w) if folder else _synthetic(h, w)
    return [np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32) for img in images]


def _synthetic(h: int, w: int) -> list[np.ndarray]:
    from zoo.imaging.samples import golden_pair, sample_image

    rng = np.random.default_rng(0)
    out = []
    for i, sigma in enumerate(np.linspace(5, 50, PATCHES - 1)):
        clean = sample_image((h, w), seed=i)
        out.append(clean + rng.normal(0, sigma / 255, clean.shape).astype(np.float32))
    noisy, _ = golden_pair("real")
    out.append(_crop(noisy, h, w))
    return [np.clip(x, 0, 1).astype(np.float32) for x in out]


def _folder_images(folder: Path, h: int, w: int) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff"))[:16]
    if not files:
        raise BackendUnavailableError(f"ZOO_CALIBRATION={folder} holds no images")
    return [_crop(np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255, h, w) for p in files]


def _crop(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """Centre crop to h x w, reflect-padded first where the image is smaller."""
    ph, pw = max(0, h - image.shape[0]), max(0, w - image.shape[1])
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="symmetric")
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return image[top:top + h, left:left + w, :3]
