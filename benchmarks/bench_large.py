"""Large-photo benchmark: wall time and peak RSS of denoising a 6000x4000 RGB photo end to end.

For the smallest preset of each installed architecture (random weights: speed and memory do not
depend on them), a child process reads the photo, runs the tiled engine and writes the result,
under ``/usr/bin/time -v`` where it exists; the child also reports its own peak RSS
(``getrusage``). Prints a table and writes JSON.

    python benchmarks/bench_large.py [--image PATH] [--models mwrcanet edsr] [--max-memory 1G]
                                     [--json bench_large.json] [--probe]

``--probe`` adds a small 64-channel conv net defined here, for when no neural architecture is
installed. Weight-free classical methods (CBM3D: about 100 s per megapixel) are skipped unless named.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
PROBE = "conv-probe"


def synthesise(path: Path, width: int = 6000, height: int = 4000) -> Path:
    """A photo-like 8-bit RGB PNG (gradients, shapes, noise), built in row bands to stay small."""
    from PIL import Image

    from seams import synthetic_photo

    img = Image.new("RGB", (width, height))
    for top in range(0, height, 500):
        band = synthetic_photo(width, min(500, height - top), seed=top)
        img.paste(Image.fromarray((band * 255).astype("uint8")), (0, top))
    img.save(path, compress_level=1)
    return path


def smallest_preset(name: str) -> str | None:
    """The preset with the fewest parameters (None when the architecture has no presets)."""
    import zoo
    from registry.manager import get_registry

    presets = list(get_registry().get(name).config.presets)
    size = lambda p: sum(v.size for v in zoo.load(name, preset=p, pretrained=False).state_dict().values())  # noqa: E731
    return min(presets, key=size) if presets else None


def candidates(requested: list[str] | None) -> list[str]:
    from registry.manager import get_registry

    reg = get_registry()
    if requested:
        return requested
    return [n for n, a in sorted(reg.architectures.items()) if a.needs_weights and _installed(a)]


def _installed(arch) -> bool:
    try:
        return bool(arch.default_backend())
    except Exception:  # an architecture whose framework is missing is simply not benchmarked
        return False


# -- child: one model, one photo, measured from inside


def child(name: str, preset: str, image: str, out: str, max_memory: int) -> None:
    from zoo.inference import engine
    from zoo.photo.imageio import read_image, write_image

    t0 = time.perf_counter()
    denoiser = _probe() if name == PROBE else _load(name, preset)
    t1 = time.perf_counter()
    photo = read_image(image, max_pixels=None)
    t2 = time.perf_counter()
    plan = engine.plan_tiles(denoiser, *photo.pixels.shape[:2], max_memory=max_memory)
    pixels = engine.run(denoiser, photo.pixels, max_memory=max_memory)
    t3 = time.perf_counter()
    write_image(out, photo.with_pixels(pixels))
    t4 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({
        "load_s": t1 - t0, "read_s": t2 - t1, "denoise_s": t3 - t2, "write_s": t4 - t3,
        "tile": plan.tile[0], "tiles": plan.count, "batch": plan.batch, "self_peak_rss_mb": round(peak),
    }))


def _load(name: str, preset: str):
    import torch

    import zoo

    torch.manual_seed(0)
    return zoo.load(name, preset=preset or None, pretrained=False)


def _probe():
    """conv3x3(3->64), 6 x (conv3x3 64->64, ReLU), conv3x3(64->3), residual: a plain CNN denoiser."""
    import numpy as np
    import torch
    from torch import nn

    from registry.config import DenoiserConfig
    from registry.denoiser import Denoiser

    class Probe(Denoiser):
        receptive_field = 8

        def __init__(self):
            super().__init__(DenoiserConfig(), architecture=PROBE, backend="torch")
            layers = [nn.Conv2d(3, 64, 3, padding=1)] + [m for _ in range(6) for m in (nn.Conv2d(64, 64, 3, padding=1), nn.ReLU())]
            self.net = nn.Sequential(*layers, nn.Conv2d(64, 3, 3, padding=1)).eval()

        def forward(self, batch, sigma):
            with torch.inference_mode():
                x = torch.from_numpy(batch).permute(0, 3, 1, 2)
                return (x + 0.01 * self.net(x)).permute(0, 2, 3, 1).numpy().astype(np.float32)

    torch.manual_seed(0)
    return Probe()


# -- parent: run children and tabulate


def measure(name: str, preset: str | None, image: Path, workdir: Path, max_memory: int) -> dict:
    out = workdir / f"out-{name}.png"
    cmd = [sys.executable, __file__, "--child", name, preset or "", str(image), str(out), str(max_memory)]
    timer = shutil.which("time") and Path("/usr/bin/time").exists()
    start = time.perf_counter()
    proc = subprocess.run((["/usr/bin/time", "-v"] if timer else []) + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    row = {"model": name, "preset": preset, "wall_s": round(wall, 1), "ok": proc.returncode == 0}
    found = re.search(r"^RESULT (.*)$", proc.stdout, re.M)
    row.update({k: (round(v, 1) if isinstance(v, float) else v) for k, v in json.loads(found.group(1)).items()} if found else {})
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    row["peak_rss_mb"] = round(int(rss.group(1)) / 1024) if rss else row.get("self_peak_rss_mb")
    if not row["ok"]:
        row["error"] = (proc.stderr.strip().splitlines() or ["?"])[-1]
    return row


def table(rows: list[dict]) -> str:
    cols = ["model", "preset", "tile", "tiles", "wall_s", "denoise_s", "peak_rss_mb", "ok"]
    lines = [" | ".join(cols), " | ".join("---" for _ in cols)]
    lines += [" | ".join(str(r.get(c, "")) for c in cols) for r in rows]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, help="photo to denoise (default: a synthetic 6000x4000 PNG)")
    parser.add_argument("--models", nargs="*", help="architectures (default: every installed neural one)")
    parser.add_argument("--probe", action="store_true", help=f"also run {PROBE}, a small conv net")
    parser.add_argument("--max-memory", default="1G")
    parser.add_argument("--json", type=Path, default=Path("bench_large.json"))
    args = parser.parse_args()
    from zoo.inference.engine import parse_memory

    with tempfile.TemporaryDirectory() as tmp:
        image = args.image or synthesise(Path(tmp) / "large.png")
        names = candidates(args.models) + ([PROBE] if args.probe else [])
        rows = []
        for name in names:
            rows.append(measure(name, None if name == PROBE else smallest_preset(name), image, Path(tmp), parse_memory(args.max_memory)))
            print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    args.json.write_text(json.dumps({"image": str(args.image or "synthetic 6000x4000 RGB PNG"), "cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
