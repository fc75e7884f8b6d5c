"""Ship a trained model: copy its weights and card into the plugin, with measured metrics.

    python scripts/ship_weights.py RUN.card.json --tag awgn_small --description "..." \
        [--default] [--metric cbsd68_s25_psnr=30.1 ...]
    python scripts/ship_weights.py --restamp      # rewrite every shipped file's metadata

`zoo ship` (zoo/cli/ship.py) for the zoo's own plugins: it finds the plugin folder from the card's
architecture, replaces a tag in place, and measures the golden crop with torch. The card written
by `zoo train` gains the tag's file name, a description, the golden-crop PSNR measured here
(tests/test_pretrained.py checks it on every CI run) and any benchmark metrics given.
The weights are written with the tag in their metadata (zoo.weights.metadata), and the card pins
the new file's sha256. ``--restamp`` does that to every shipped tag: same tensors, new metadata.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from zoo.cli.ship import ship, stamp  # `zoo ship` itself, with the plugin folder found from the card

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    args = _parse()
    if args.restamp:
        return restamp()
    architecture = json.loads(args.card.read_text())["architecture"]
    # replaced in place when trained further; the golden crop measured with torch, as tests/test_pretrained.py does
    card, _ = ship(args.card, ROOT / "plugins" / architecture, args.tag, default=args.default,
                   description=args.description, metrics=tuple(args.metric), overwrite=True, backend="torch")
    print(f"shipped {architecture}.{args.tag}: {card['metrics']}")


def restamp() -> None:
    for card_path in sorted(ROOT.glob("plugins/*/weights/*.card.json")):
        card = json.loads(card_path.read_text())
        tag = card_path.name.removesuffix(".card.json")
        path = card_path.parent / card["file"]
        old, card["sha256"] = card["sha256"], stamp(path, path, card, tag)
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"{card['architecture']}.{tag}: sha256 {old[:12]}... -> {card['sha256'][:12]}...")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("card", type=Path, nargs="?")
    parser.add_argument("--restamp", action="store_true", help="rewrite the metadata of every shipped file")
    parser.add_argument("--tag")
    parser.add_argument("--description")
    parser.add_argument("--default", action="store_true")
    parser.add_argument("--metric", action="append", default=[], help="KEY=VALUE, repeatable")
    return parser.parse_args()


if __name__ == "__main__":
    main()
