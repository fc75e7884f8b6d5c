"""What `zoo list`, `zoo info` and `zoo plugins` show, as plain data (no framework imports)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from registry.manager import PluginInfo
from registry.spec import Architecture, PretrainedWeights
from zoo.bench import stats
from zoo.bench.stats import human


def card(arch: Architecture, p: PretrainedWeights) -> dict[str, Any]:
    return {
        "name": f"{arch.name}.{p.tag}", "tag": p.tag, "default": p.tag == arch.default_tag,
        "noise": p.noise, "source": p.source, "preset": p.preset, "description": p.description,
    }


def summary(arch: Architecture) -> dict[str, Any]:
    return {
        "name": arch.name, "aliases": list(arch.aliases), "description": arch.description,
        "plugin": arch.plugin, "backends": {b: arch.backend_installed(b) for b in arch.backends},
        "pretrained": [card(arch, p) for p in arch.pretrained], "needs_weights": arch.needs_weights,
    }


def details(arch: Architecture) -> dict[str, Any]:
    cfg = arch.config
    return {
        **summary(arch),
        "paper": arch.paper,
        "config_schema": cfg.model_json_schema(),
        "defaults": cfg.preset().model_dump(mode="json"),
        "presets": {name: cfg.preset(name).model_dump(mode="json") for name in cfg.presets},
        **preset_stats(arch),
        "pretrained": [
            {**card(arch, p), "file": p.file, "sha256": p.sha256, "sigma_range": p.sigma_range,
             "training": p.training, "metrics": p.metrics, "license": p.license}
            for p in arch.pretrained
        ],
    }


def preset_stats(arch: Architecture) -> dict[str, Any]:
    """Per-preset parameters and MACs per megapixel, measured from the model (zoo.bench.stats)."""
    reason = stats.unavailable_reason(arch)
    if reason is not None:
        return {"stats": {}, "stats_note": reason}
    return {"stats": stats.preset_stats(arch), "stats_note": None}


def render_details(data: dict[str, Any]) -> Group:
    parts: list[Any] = [Text(f"{data['name']}: {data['description']}", style="bold")]
    if data["paper"]:
        parts.append(Text(f"paper: {data['paper']}"))
    fields = Table("field", "default", "description", title="config")
    props = data["config_schema"].get("properties", {})
    for name, value in data["defaults"].items():
        fields.add_row(name, str(value), props.get(name, {}).get("description", ""))
    parts.append(fields)
    if data["presets"]:
        presets = Table("preset", "settings", "params", "MACs/MP", title="presets")
        for name, values in data["presets"].items():
            changed = {k: v for k, v in values.items() if v != data["defaults"].get(k)}
            cost = data.get("stats", {}).get(name)
            numbers = (human(cost["params"]), human(cost["macs_per_mp"])) if cost else ("-", "-")
            presets.add_row(name, ", ".join(f"{k}={v}" for k, v in changed.items()) or "(defaults)", *numbers)
        parts.append(presets)
    if data.get("stats_note"):
        parts.append(Text(f"params, MACs: {data['stats_note']}"))
    cards = Table("weights", "noise", "source", "metrics", "training", title="pretrained")
    for p in data["pretrained"]:
        metrics = ", ".join(f"{k}={v:g}" for k, v in p["metrics"].items())
        cards.add_row(p["name"] + (" (default)" if p["default"] else ""), p["noise"], p["source"], metrics, p["training"])
    parts.append(cards if data["pretrained"] else Text("pretrained: none" + ("" if data["needs_weights"] else " needed")))
    return Group(*parts)


def plugin_row(p: PluginInfo) -> dict[str, Any]:
    return {"name": p.name, "loaded": p.error is None, "source": p.source,
            "architectures": list(p.architectures), "error": p.error}
