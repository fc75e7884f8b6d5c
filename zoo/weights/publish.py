"""Publishing: `zoo export` writes a Hub-ready folder, `zoo push` uploads it with huggingface_hub.

The folder is what ``zoo.load("hf://ORG/REPO")`` reads back: ``model.safetensors`` (the canonical
state dict), ``config.json`` (``DenoiserConfig.to_hub_dict``: the architecture's name plus every
config field) and ``README.md``, a model card whose YAML front matter carries the licence, tags,
datasets and the card's measured metrics in the Hub's model-index form. So a third party can
publish weights for a built-in architecture without writing a plugin.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from registry.errors import WeightsError, ZooError
from registry.spec import Architecture, PretrainedWeights
from zoo.weights import hub
from zoo.atomic import atomic_path
from zoo.weights.files import save_state
from zoo.weights.metadata import describe

LIBRARY = "denoise-zoo"
ONNX_FILE = "model.onnx"  # `zoo export --onnx`: the graph beside model.safetensors
# Card metric keys read DATASET_sSIGMA_METRIC (e.g. cbsd68_s25_psnr) or DATASET_METRIC.
_METRIC_KEY = re.compile(r"^(?P<dataset>.+?)(?:_s(?P<sigma>\d+(?:\.\d+)?))?_(?P<metric>[a-z0-9]+)$")
_METRIC_NAMES = {"psnr": "PSNR (dB)", "ssim": "SSIM"}
# Hub licence ids are lowercase SPDX-like names; anything else is published as "other".
_LICENSES = {"mit", "apache-2.0", "bsd-3-clause", "bsd-2-clause", "cc-by-4.0", "cc-by-nc-4.0", "gpl-3.0",
             "openrail", "cc0-1.0", "cc-by-sa-4.0"}


def export(
    model: str,
    out_dir: Path,
    *,
    weights: str | None = None,
    preset: str | None = None,
    backend: str | None = None,
    datasets: Sequence[str] = (),
    overwrite: bool = False,
    trust_pickle: bool = False,
    offline: bool | None = None,
    onnx: bool = False,
) -> dict[str, Path]:
    """Write ``model`` (a card ``MODEL[:TAG]``, or an architecture with ``weights``) to ``out_dir``.

    Each file is written atomically; existing files are kept unless ``overwrite``. Returns the
    written paths by role ('weights', 'config', 'card', and 'onnx': ``model.onnx``, the graph
    zoo.runtimes exports, dynamic in height and width).
    """
    from registry.manager import get_registry
    from zoo.weights.loader import load
    from zoo.weights.names import parse_model

    out_dir = Path(out_dir)
    targets = {"weights": out_dir / hub.WEIGHTS_FILE, "config": out_dir / hub.CONFIG_FILE, "card": out_dir / hub.CARD_FILE}
    if onnx:
        targets["onnx"] = out_dir / ONNX_FILE
    _check_targets(out_dir, targets.values(), overwrite)
    denoiser = load(model, backend=backend, weights=weights, preset=preset, trust_pickle=trust_pickle,
                        offline=offline)
    arch = get_registry().get(denoiser.architecture)
    card = None if (weights or model.startswith(hub.SCHEME)) else arch.weights_for(parse_model(model)[1])
    provenance = f"zoo export {model}" + (f" --weights {weights}" if weights else "")
    sha = save_state(denoiser.state_dict(), targets["weights"],
                     metadata=describe(arch.name, denoiser.config, card.tag if card else None, provenance))
    _write_text(targets["config"], denoiser.config.to_json(arch.name) + "\n")
    _write_text(targets["card"], model_card(arch, denoiser.config.to_hub_dict(arch.name), card, sha, datasets))
    if onnx:
        from zoo.weights.convert import write_onnx

        write_onnx(targets["weights"], targets["onnx"])
    return targets


def _check_targets(out_dir: Path, targets: Any, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ZooError(f"{out_dir} exists and is not a folder")
    existing = [t.name for t in targets if t.exists()]
    if existing and not overwrite:
        raise ZooError(f"{out_dir} already holds {', '.join(existing)}; pass --overwrite to replace them")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# -- the model card ----------------------------------------------------------------------------


def model_card(
    arch: Architecture, config: dict[str, Any], card: PretrainedWeights | None, sha256: str,
    datasets: Sequence[str] = (),
) -> str:
    """README.md: YAML front matter (licence, tags, datasets, model-index) and a short body."""
    from huggingface_hub import ModelCard, ModelCardData

    name = f"{arch.name}.{card.tag}" if card else f"{arch.name} (custom weights)"
    licence = (card.license if card else "MIT").lower()
    data = ModelCardData(
        license=licence if licence in _LICENSES else "other",
        library_name=LIBRARY,
        pipeline_tag="image-to-image",
        tags=[LIBRARY, "image-denoising", arch.name, *([card.noise] if card else [])],
        datasets=list(datasets) or None,
        model_name=name,
        eval_results=eval_results(card.metrics) if card and card.metrics else None,
    )
    body = _card_body(arch, config, card, sha256, name)
    return str(ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + body))


def eval_results(metrics: dict[str, float]) -> list[Any]:
    """The card's metrics as huggingface_hub EvalResults (rendered as model-index)."""
    from huggingface_hub import EvalResult

    results = []
    for key, value in sorted(metrics.items()):
        m = _METRIC_KEY.match(key)
        dataset, sigma, metric = (m["dataset"], m["sigma"], m["metric"]) if m else ("unknown", None, key)
        label = dataset.upper() + (f" (AWGN sigma={sigma})" if sigma else "")
        results.append(EvalResult(
            task_type="image-to-image", task_name="Image denoising", dataset_type=dataset, dataset_name=label,
            dataset_config=f"sigma{sigma}" if sigma else None, metric_type=metric, metric_value=float(value),
            metric_name=_METRIC_NAMES.get(metric, metric),
        ))
    return results


def _card_body(arch: Architecture, config: dict[str, Any], card: PretrainedWeights | None, sha: str, name: str) -> str:
    lines = [
        f"\n# {name}\n", f"{card.description if card and card.description else arch.description}\n",
        f"Weights for the `{arch.name}` architecture of [denoise-zoo](https://pypi.org/project/denoise-zoo/).",
        f"{'Paper: ' + arch.paper if arch.paper else ''}\n",
        "## Use\n", "```bash", "pip install denoise-zoo", "zoo denoise --model hf://ORG/REPO photo.png", "```\n",
        "## Files\n", f"- `{hub.WEIGHTS_FILE}`: canonical state dict (PyTorch names and layouts), sha256 `{sha}`",
        f"- `{hub.CONFIG_FILE}`: the configuration the weights need\n",
        "```json", json.dumps(config, indent=2, sort_keys=True), "```\n",
    ]
    if card is not None:
        lines += ["## Provenance\n", f"- noise: {card.noise}" + (f", sigma {card.sigma_range}" if card.sigma_range else "")]
        lines += [f"- training: {card.training}"] if card.training else []
        lines += [f"- {k}: {v:g}" for k, v in sorted(card.metrics.items())] + [""]
    return "\n".join(lines)


# -- zoo push ----------------------------------------------------------------------------------


def push(
    folder: Path, repo_id: str, *, token: str | None = None, private: bool = False, revision: str | None = None,
    message: str | None = None, offline: bool | None = None,
) -> str:
    """Create ``repo_id`` if needed and upload an exported folder in one commit; return its URL."""
    folder = Path(folder)
    architecture = _check_folder(folder)
    if hub.is_offline(offline):
        raise WeightsError("zoo push needs the network, and offline mode is on (--offline or HF_HUB_OFFLINE)")
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint(), token=token, library_name=LIBRARY)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=folder, repo_id=repo_id, repo_type="model", revision=revision,
            commit_message=message or f"Upload {architecture} weights with denoise-zoo",
            allow_patterns=[hub.WEIGHTS_FILE, hub.CONFIG_FILE, hub.CARD_FILE],
        )
    except Exception as exc:  # every client failure becomes one line
        raise _push_error(exc, repo_id) from exc
    return str(getattr(info, "commit_url", info))


def _check_folder(folder: Path) -> str:
    """Refuse to upload a folder that `zoo.load` could not read back; return its architecture."""
    from registry.manager import get_registry

    missing = [f for f in (hub.WEIGHTS_FILE, hub.CONFIG_FILE) if not (folder / f).is_file()]
    if missing:
        raise ZooError(f"{folder} is not an exported model (no {', '.join(missing)}); run `zoo export` first")
    try:
        data = json.loads((folder / hub.CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ZooError(f"{folder / hub.CONFIG_FILE} is not valid JSON: {exc}") from exc
    arch = get_registry().get(str(data.get("architecture", "")) if isinstance(data, dict) else "")
    arch.config.from_hub_dict(data)
    return arch.name


def _push_error(exc: Exception, repo_id: str) -> ZooError:
    from huggingface_hub import errors

    where = hub.endpoint()
    if isinstance(exc, errors.HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return WeightsError(f"not allowed to write to {repo_id} on {where}: set HF_TOKEN or pass --token")
        return WeightsError(f"the Hub at {where} answered HTTP {status} while uploading to {repo_id}")
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return WeightsError(f"could not upload to {repo_id} on {where}: {first}")
