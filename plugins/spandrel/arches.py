"""The denoising architectures spandrel recognises, as plain data: nothing here imports a framework.

Each entry names spandrel's architecture id and class, the licence of that architecture's code
(spandrel's own package is MIT, but each network keeps its authors' licence), the small
hyper-parameters the conformance kit builds with random weights, and the tile overlap it needs.
Restrictive-licence networks live in ``spandrel_extra_arches``, which users install themselves.

The licences were checked against the upstream repositories' own files (December 2026): NAFNet
(megvii-research/NAFNet LICENSE: MIT, its BasicSR parts Apache-2.0), DRUNet and FDnCNN (cszn/DPIR
and cszn/KAIR: MIT), Uformer (ZhendongWang6/Uformer: MIT), and the four non-commercial networks
(each ships the Academic Public License, which also asks that copies keep it). SCUNet, KBNet,
FFTformer and IPT state no licence: their repositories have no LICENSE file and their READMEs none,
so the zoo says so rather than repeat a third party's guess; FFTformer's code also carries
Restormer's layer-norm and patch-embedding code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXTRA_PACKAGE = "spandrel_extra_arches"
NONCOMMERCIAL = "Academic Public License (non-commercial)"
UNSTATED = "none stated upstream"


@dataclass(frozen=True)
class Bridged:
    """One spandrel architecture offered as a zoo model."""

    name: str  # what users type: zoo denoise --model NAME
    arch_id: str  # spandrel's Architecture.id
    module: str  # where spandrel (or spandrel_extra_arches) defines the network class
    cls: str
    license: str  # of the architecture's code
    paper: str
    tiny: dict[str, Any]  # the kit's random-weight network: small, but recognised by spandrel's detection
    receptive_field: int  # tile overlap per side; spandrel's tiling advice raises it (torch_backend)
    extra: bool = False  # needs spandrel_extra_arches
    noise_map: bool = False  # takes a noise-level map as an extra input channel (DRUNet, FDnCNN)
    # Its traced ONNX graph is right at every size (the kit's runtime check): False where its forward
    # pads or windows in Python from the input's size, which tracing would freeze.
    exports: bool = True
    one_image: bool = False  # its call takes one image at a time (IPT's chopper)
    aliases: tuple[str, ...] = field(default=())


def _main(arch: str) -> str:
    return f"spandrel.architectures.{arch}"


ARCHES: tuple[Bridged, ...] = (
    Bridged("scunet", "SCUNet", _main("SCUNet"), "SCUNet", UNSTATED,
            "Zhang et al., Practical Blind Denoising via Swin-Conv-UNet and Data Synthesis (arXiv 2203.13278)",
            {"config": [1, 1, 1, 1, 1, 1, 1], "dim": 64}, receptive_field=64, exports=False),
    Bridged("nafnet", "NAFNet", _main("NAFNet"), "NAFNet", "MIT",
            "Chen et al., Simple Baselines for Image Restoration, ECCV 2022 (arXiv 2204.04676)",
            {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]}, receptive_field=64),
    Bridged("drunet", "DRUNet", _main("DRUNet"), "DRUNet", "MIT",
            "Zhang et al., Plug-and-Play Image Restoration with Deep Denoiser Prior, TPAMI 2021 (DPIR)",
            {"in_nc": 4, "out_nc": 3, "nc": [8, 16, 32, 64], "nb": 2}, receptive_field=64, noise_map=True),
    Bridged("fdncnn", "DnCNN", _main("DnCNN"), "DnCNN", "MIT",
            "Zhang et al., Beyond a Gaussian Denoiser, IEEE TIP 2017; FDnCNN from KAIR/DPIR",
            {"in_nc": 3, "out_nc": 3, "nc": 16, "nb": 9, "act_mode": "R"}, receptive_field=24,
            aliases=("kair_dncnn",)),  # not "dncnn": that is the plugin tutorial's name
    Bridged("kbnet", "KBNet", _main("KBNet"), "KBNet_s", UNSTATED,
            "Zhang et al., KBNet: Kernel Basis Network for Image Restoration (arXiv 2303.02881)",
            {"width": 16, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]}, receptive_field=64),
    Bridged("uformer", "Uformer", _main("Uformer"), "Uformer", "MIT",
            "Wang et al., Uformer: A General U-Shaped Transformer for Image Restoration, CVPR 2022",
            {"embed_dim": 8, "depths": [1] * 9, "num_heads": [1] * 9, "win_size": 8}, receptive_field=128,
            exports=False),
    Bridged("fftformer", "FFTformer", _main("FFTformer"), "FFTformer", f"{UNSTATED}; part Restormer's (non-commercial)",
            "Kong et al., Efficient Frequency Domain-based Transformers for Image Deblurring, CVPR 2023",
            {"dim": 8, "num_blocks": [1, 1, 1], "num_refinement_blocks": 1}, receptive_field=64,
            exports=False),  # FFT blocks: no ONNX operator for rfft2
    Bridged("ipt", "IPT", _main("IPT"), "IPT", UNSTATED,
            "Chen et al., Pre-Trained Image Processing Transformer, CVPR 2021 (arXiv 2012.00364)",
            {"patch_size": 12, "patch_dim": 3, "n_feats": 4, "num_layers": 1}, receptive_field=48,
            exports=False, one_image=True),
    Bridged("restormer", "Restormer", "spandrel_extra_arches.architectures.Restormer", "Restormer", NONCOMMERCIAL,
            "Zamir et al., Restormer: Efficient Transformer for High-Resolution Image Restoration, CVPR 2022",
            {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 1, 1]},
            receptive_field=64, extra=True),
    Bridged("mprnet", "MPRNet", "spandrel_extra_arches.architectures.MPRNet", "MPRNet", NONCOMMERCIAL,
            "Zamir et al., Multi-Stage Progressive Image Restoration, CVPR 2021",
            {"n_feat": 8, "scale_unetfeats": 4, "scale_orsnetfeats": 4, "num_cab": 1}, receptive_field=64, extra=True,
            exports=False),  # splits the image into patches from its size
    Bridged("mirnet2", "MIRNet2", "spandrel_extra_arches.architectures.MIRNet2", "MIRNet2", NONCOMMERCIAL,
            "Zamir et al., Learning Enriched Features for Fast Image Restoration and Enhancement, TPAMI 2022",
            {"n_feat": 16, "n_MRB": 1}, receptive_field=64, extra=True),
    Bridged("m3snet", "M3SNet", "spandrel_extra_arches.architectures.M3SNet", "M3SNet", NONCOMMERCIAL,
            "Gao et al., A Mountain-Shaped Single-Stage Network for Accurate Image Restoration (arXiv 2305.05146)",
            {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1, 1, 1], "dec_blk_nums": [1, 1, 1, 1]},
            receptive_field=64, extra=True),
)

BY_NAME = {a.name: a for a in ARCHES}
BY_ID = {a.arch_id: a for a in ARCHES}
ANY = "spandrel"  # the architecture that takes whatever spandrel recognises
