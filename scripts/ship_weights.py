"""Ship a trained model: copy its weights and card into the plugin, with measured metrics.

    python scripts/ship_weights.py RUN.card.json --tag awgn_small --description "..." \
        [--default] [--metric cbsd68_s25_psnr=30.1 ...]

The card written by `zoo train` gains the tag's file name, a description, the golden-crop PSNR
measured here (tests/test_pretrained.py checks it on every CI run) and any benchmark metrics given.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    args = _parse()
    card = json.loads(args.card.read_text())
    weights = ROOT / "plugins" / card["architecture"] / "weights"
    target = weights / f"{args.tag}.safetensors"
    shutil.copyfile(args.card.parent / card["file"], target)
    card.update(file=target.name, description=args.description, default=args.default)
    card["metrics"].update({k: float(v) for k, v in (m.split("=", 1) for m in args.metric)})
    card["metrics"]["golden_psnr"] = round(_golden(card, target), 3)
    (weights / f"{args.tag}.card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"shipped {card['architecture']}.{args.tag}: {card['metrics']}")


def _golden(card: dict, path: Path) -> float:
    import zoo
    from zoo.testing import golden_psnr

    denoiser = zoo.load(card["architecture"], backend="torch", preset=card["preset"], weights=str(path), **card["config"])
    return golden_psnr(denoiser, card["noise"])


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("card", type=Path)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--description", required=True)
    parser.add_argument("--default", action="store_true")
    parser.add_argument("--metric", action="append", default=[], help="KEY=VALUE, repeatable")
    return parser.parse_args()


if __name__ == "__main__":
    main()
