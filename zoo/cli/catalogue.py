"""What `zoo list`, `zoo info` and `zoo plugins` show, as plain data (no framework imports)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from registry.errors import ZooError
from registry.manager import PluginInfo
from registry.spec import Architecture, PretrainedWeights
from zoo.bench import stats
from zoo.bench.stats import human


def card(arch: Architecture, p: PretrainedWeights) -> dict[str, Any]:
    return {
        "name": f"{arch.name}.{p.tag}", "tag": p.tag, "default": p.tag == arch.default_tag,
        "noise": p.noise, "source": p.source, "preset": p.preset, "description": p.description,
        "uses_sigma": bool(p.config.get("noise_map")),
    }


def summary(arch: Architecture) -> dict[str, Any]:
    return {
        "name": arch.name, "aliases": list(arch.aliases), "description": arch.description,
        "plugin": arch.plugin, "backends": {b: arch.backend_installed(b) for b in arch.backends},
        "pretrained": [card(arch, p) for p in arch.pretrained], "needs_weights": arch.needs_weights,
        "license": arch.license,
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
        "auto_backend": auto_backend(arch) if _not_installed(arch) is None else {},
        "pretrained": [
            {**card(arch, p), "file": p.file, "sha256": p.sha256, "sigma_range": p.sigma_range,
             "training": p.training, "metrics": p.metrics, "license": p.license}
            for p in arch.pretrained
        ],
    }


def auto_backend(arch: Architecture) -> dict[str, dict[str, str]]:
    """What `--backend auto` picks for each precision, and why (zoo.runtimes.auto)."""
    from zoo.runtimes import auto

    try:
        return {p: dict(zip(("backend", "why"), auto.explain(arch, p))) for p in ("fp32", "bf16", "int8")}
    except Exception as exc:  # a plugin's backend module that fails to import: say so, info goes on
        return {"fp32": {"backend": arch.default_backend(), "why": f"cannot tell: {exc}".splitlines()[0]}}


def _not_installed(arch: Architecture) -> str | None:
    """What to install when no backend of ``arch`` runs here (`zoo info` says so and goes on)."""
    try:
        arch.default_backend()
    except ZooError as exc:
        return str(exc)
    return None


def preset_stats(arch: Architecture) -> dict[str, Any]:
    """Per-preset parameters and MACs per megapixel, measured from the model (zoo.bench.stats)."""
    reason = stats.unavailable_reason(arch) or _not_installed(arch)
    if reason is not None:
        return {"stats": {}, "stats_note": reason}
    return {"stats": stats.preset_stats(arch), "stats_note": None}


PURPOSE = {"real": "camera photos", "awgn": "Gaussian noise", "awgn_blind": "Gaussian noise"}
HEADLINE = ("polyu_psnr", "cbsd68_s25_psnr", "golden_psnr")  # the scores `zoo info` shows without --full


def purpose(noise: str | None, needs_weights: bool = True, uses_sigma: bool = False) -> str:
    """The short 'for' column: what a tag (or a weight-free model) is for; a noise-map tag says
    it uses --sigma."""
    if noise is None:
        return "peer" if not needs_weights else "your weights"
    return PURPOSE.get(noise, noise) + (", --sigma" if uses_sigma else "")


def render_list(rows: list[dict[str, Any]]) -> Group:
    """One line per pretrained tag, without the architecture prefix; fits 80 columns."""
    table = Table("model", "tag (* default)", "for", "backends", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for r in rows:
        backends = ", ".join(b if ok else f"{b} (missing)" for b, ok in r["backends"].items())
        name = r["name"]
        tags = sorted(r["pretrained"], key=lambda p: (not p["default"], p["noise"] != "real", p["tag"]))
        if not tags:
            table.add_row(name, "-", purpose(None, r["needs_weights"]), backends)
        for i, p in enumerate(tags):
            table.add_row(name if i == 0 else "", p["tag"] + (" *" if p["default"] else ""),
                          purpose(p["noise"], uses_sigma=p["uses_sigma"]), backends if i == 0 else "")
        table.add_section()
    for column in table.columns[:3]:
        column.no_wrap = True
    aliases = "; ".join(f"{', '.join(r['aliases'])} = {r['name']}" for r in rows if r["aliases"])
    return Group(table, Text(f"aliases: {aliases}" if aliases else ""), *_licences(rows))


def _licences(rows: list[dict[str, Any]]) -> list[Text]:
    """One line per licence of bridged or peer code, naming its models (the zoo's own code is MIT)."""
    by_licence: dict[str, list[str]] = {}
    for r in rows:
        if r.get("license"):
            by_licence.setdefault(r["license"], []).append(r["name"])
    return [Text(f"code licence {lic}: {', '.join(names)}") for lic, names in by_licence.items()]


def render_details(data: dict[str, Any], full: bool = False) -> Group:
    parts: list[Any] = [Text(f"{data['name']}: {data['description']}", style="bold")]
    if data["paper"]:
        parts.append(Text(f"paper: {data['paper']}"))
    if data.get("license"):
        parts.append(Text(f"code licence: {data['license']}"))
    if full:
        parts.append(_config_table(data))
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
    if data.get("auto_backend"):
        picks = "; ".join(f"{p} {c['backend']}" for p, c in data["auto_backend"].items())
        why = sorted({c["why"] for c in data["auto_backend"].values()})
        parts.append(Text(f"--backend auto: {picks} ({', '.join(why)})"))
    parts.append(_cards_table(data, full) if data["pretrained"]
                 else Text("pretrained: none" + ("" if data["needs_weights"] else " needed")))
    if not full:
        parts.append(Text("zoo info --full adds the config schema and each card's training and metrics", style="dim"))
    return Group(*parts)


def _config_table(data: dict[str, Any]) -> Table:
    fields = Table("field", "default", "description", title="config")
    props = data["config_schema"].get("properties", {})
    for name, value in data["defaults"].items():
        fields.add_row(name, str(value), props.get(name, {}).get("description", ""))
    return fields


def _cards_table(data: dict[str, Any], full: bool) -> Table:
    if full:
        cards = Table("weights", "noise", "source", "metrics", "training", title="pretrained")
        for p in data["pretrained"]:
            metrics = ", ".join(f"{k}={v:g}" for k, v in p["metrics"].items())
            cards.add_row(p["name"] + (" (default)" if p["default"] else ""), p["noise"], p["source"], metrics,
                          p["training"])
        return cards
    cards = Table("tag (* default)", "for", "preset", "PSNR (dB)", title="pretrained", box=box.SIMPLE_HEAD)
    for p in data["pretrained"]:
        order = HEADLINE if p["noise"] == "real" else (HEADLINE[1], HEADLINE[0], HEADLINE[2])
        scores = next((f"{k.removesuffix('_psnr')} {p['metrics'][k]:.2f}" for k in order if k in p["metrics"]), "-")
        cards.add_row(p["tag"] + (" *" if p["default"] else ""), purpose(p["noise"], uses_sigma=p["uses_sigma"]), p["preset"] or "-",
                      scores)
    for column in cards.columns:
        column.no_wrap = True
    return cards


def plugin_row(p: PluginInfo) -> dict[str, Any]:
    return {"name": p.name, "loaded": p.error is None, "source": p.source,
            "architectures": list(p.architectures), "error": p.error}
