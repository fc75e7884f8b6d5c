"""Weights on the Hugging Face Hub: ``hf://ORG/REPO/FILE[@REVISION]`` to a verified cached file.

Offline-first: a file already in the Hugging Face cache is used without any request (a branch
such as ``main`` is resolved through the cache's refs; ``zoo pull`` re-checks it online). Every
use is verified, because the hub client only checks sizes: against the card's pinned sha256 when
there is one, and always against the hash the hub reported for the file (the cached blob's name:
the LFS sha256, or the git blob sha1 for small files). A copy whose bytes do not match its hub
hash is corrupt or tampered with: it is deleted, so the next call downloads it afresh.

HF_ENDPOINT, HF_HUB_OFFLINE, HF_HUB_CACHE and HF_HOME are read on every call (huggingface_hub
reads them once at import), and ``offline=True`` means no network attempt at all. Every failure
becomes a one-line :class:`WeightsError`. huggingface_hub is imported lazily: it is slow to import
and ``zoo list`` must not pay for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from registry.errors import WeightsError
from zoo.weights.files import sha256_file

SCHEME = "hf://"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
DEFAULT_REVISION = "main"
_HEX40 = re.compile(r"[0-9a-f]{40}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}")  # what the Hub allows in ORG, REPO and a revision


class HubFileNotFound(WeightsError):
    """The repository exists but has no such file at that revision (callers may treat it as optional)."""


@dataclass(frozen=True)
class HubRef:
    """One file of a Hub model repository at a revision (branch, tag or commit)."""

    repo_id: str
    filename: str = WEIGHTS_FILE
    revision: str = DEFAULT_REVISION

    def sibling(self, filename: str) -> HubRef:
        """Another file of the same repository at the same revision."""
        return replace(self, filename=filename)

    def __str__(self) -> str:
        return f"{SCHEME}{self.repo_id}/{self.filename}@{self.revision}"


def parse_ref(ref: str, default_file: str | None = None) -> HubRef:
    """Parse ``hf://ORG/REPO/FILE[@REVISION]``; with ``default_file``, ``hf://ORG/REPO[@REV]`` too."""
    body = ref[len(SCHEME):] if ref.startswith(SCHEME) else ""
    path, at, revision = body.rpartition("@") if "@" in body else (body, "", "")
    parts = path.strip("/").split("/")
    filename = "/".join(parts[2:]) or default_file
    form = "hf://ORG/REPO/FILE[@REVISION]" + (" or hf://ORG/REPO[@REVISION]" if default_file else "")
    if len(parts) < 2 or not all(parts[:2]) or not filename or (at and not revision):
        raise WeightsError(f"bad Hub reference {ref!r}: expected {form}")
    names = [*parts[:2], *(revision or DEFAULT_REVISION).split("/")]  # a revision may be refs/pr/1
    if any(not _NAME.fullmatch(n) or n in (".", "..") for n in names) or any(
            n in ("", ".", "..") or "\\" in n for n in filename.split("/")):
        raise WeightsError(f"bad Hub reference {ref!r}: ORG, REPO, FILE and REVISION take letters, digits and "
                           "-_. only, and FILE no '..' or empty parts")
    return HubRef("/".join(parts[:2]), filename, revision or DEFAULT_REVISION)


# -- settings, read on every call -------------------------------------------------------------


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` when given, else HF_HUB_OFFLINE (read now, not at import)."""
    if offline is not None:
        return offline
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def cache_dir() -> Path:
    """The Hugging Face hub cache: HF_HUB_CACHE, else HF_HOME/hub, else the library default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


# -- download and verify ----------------------------------------------------------------------


def download(
    ref: str | HubRef,
    sha256: str | None = None,
    *,
    offline: bool | None = None,
    refresh: bool = False,
    tqdm_class: Any = None,
) -> Path:
    """Local path of the verified file for ``ref``, from the cache when there, else downloaded.

    ``sha256`` is the card's pin, if any. ``refresh`` re-resolves the revision online even when
    cached (what ``zoo pull`` does). Raises WeightsError (HubFileNotFound for a missing file).
    """
    hub_ref = parse_ref(ref) if isinstance(ref, str) else ref
    offline = is_offline(offline)
    path = None if (refresh and not offline) else cached(hub_ref)
    if path is None:
        path = _fetch(hub_ref, offline, tqdm_class)
    _verify(path, hub_ref, sha256, offline)
    return path


def cached(ref: HubRef) -> Path | None:
    """The cached file for ``ref`` without any request, or None. A file the Hub said it does not
    have (huggingface_hub records that 404 under ``.no_exist``) is HubFileNotFound, offline too."""
    from huggingface_hub import _CACHED_NO_EXIST, try_to_load_from_cache

    found = try_to_load_from_cache(ref.repo_id, ref.filename, cache_dir=cache_dir(), revision=ref.revision)
    if found is _CACHED_NO_EXIST:
        raise HubFileNotFound(f"{ref.repo_id} has no file {ref.filename!r} at revision {ref.revision!r} "
                              "(as the Hub answered before)")
    return Path(found) if isinstance(found, str) else None


def _fetch(ref: HubRef, offline: bool, tqdm_class: Any) -> Path:
    if offline:  # never let the client try: offline means no request at all
        raise WeightsError(
            f"{ref} is not in the Hugging Face cache and offline mode is on (--offline or HF_HUB_OFFLINE); "
            "run `zoo pull` online first"
        )
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(
            ref.repo_id, ref.filename, revision=ref.revision, cache_dir=cache_dir(),
            endpoint=endpoint(), tqdm_class=tqdm_class, library_name="denoise-zoo",
        ))
    except Exception as exc:  # every client failure becomes one line; programming errors too
        raise _explain(exc, ref) from exc


def _explain(exc: Exception, ref: HubRef) -> WeightsError:
    """Map a huggingface_hub failure to a one-line error that says what to do."""
    from huggingface_hub import errors

    where = endpoint()
    if isinstance(exc, errors.RevisionNotFoundError):
        return WeightsError(f"{ref.repo_id} has no revision {ref.revision!r} on {where}")
    if isinstance(exc, errors.RepositoryNotFoundError):
        return WeightsError(f"no repository {ref.repo_id} on {where} (if it is private or gated, set HF_TOKEN)")
    if isinstance(exc, errors.LocalEntryNotFoundError):
        return WeightsError(
            f"cannot reach the Hub at {where} and {ref} is not cached; check the connection and HF_ENDPOINT"
        )
    if isinstance(exc, errors.EntryNotFoundError):
        return HubFileNotFound(f"{ref.repo_id} has no file {ref.filename!r} at revision {ref.revision!r}")
    if isinstance(exc, errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return WeightsError(f"the Hub at {where} answered HTTP {status} for {ref}; try again later")
    if isinstance(exc, OSError) and "Consistency check failed" in str(exc):
        return WeightsError(f"download of {ref} was truncated (fewer bytes than the Hub announced); run it again")
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return WeightsError(f"could not download {ref}: {first}")


def _verify(path: Path, ref: HubRef, pin: str | None, offline: bool) -> None:
    """Check the bytes against the hub's hash (evicting a bad copy), then against the pin."""
    blob = Path(os.path.realpath(path))
    actual = sha256_file(blob)
    expected = known_hash(path) or _hub_hash(path, ref, offline)
    if not matches(expected, blob, actual):
        evict(path, blob)
        raise WeightsError(
            f"checksum mismatch for {ref}: the bytes do not match the hash the Hub reported "
            f"({expected[:12]}...); the corrupt copy was deleted and was not loaded, run again to re-download"
        )
    _record(path, expected)
    if pin is not None and actual != pin:
        raise WeightsError(
            f"checksum mismatch for {ref}: expected pinned sha256 {pin[:12]}..., the Hub serves "
            f"{actual[:12]}...; the file was not loaded (pin a commit with @REVISION or update the card)"
        )


def matches(expected: str, blob: Path, sha256: str) -> bool:
    """Hub hashes are an LFS sha256 (64 hex) or, for small files, a git blob sha1 (40 hex)."""
    return expected == (sha256 if len(expected) == 64 else git_blob_sha1(blob))


# Where the cache links each file to a blob named by its hub hash, the name is the record. A cache
# of copies (no symlinks: some file systems, `cp -L`, hand edits) has no hash in any name, so the
# zoo keeps the hash of every file it verified in MANIFEST, one per repository folder.
MANIFEST = "zoo-hashes.json"


def _snapshot(path: Path) -> tuple[Path, str] | None:
    """(the repository's cache folder, 'COMMIT/FILE') for a file under .../snapshots/COMMIT/FILE."""
    parts = Path(path).absolute().parts
    if "snapshots" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("snapshots")
    return Path(*parts[:i]), "/".join(parts[i + 1:])


def _manifest(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def known_hash(path: Path) -> str | None:
    """The hub hash of a cached file without any request: its blob's name, else the zoo's record."""
    blob = Path(os.path.realpath(path))
    if _HEX64.fullmatch(blob.name) or _HEX40.fullmatch(blob.name):
        return blob.name
    where = _snapshot(path)
    return _manifest(where[0]).get(where[1]) if where else None


def _record(path: Path, expected: str) -> None:
    where = _snapshot(path)
    if where is None or _manifest(where[0]).get(where[1]) == expected:
        return
    from zoo.atomic import atomic_path

    folder, key = where
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps({**_manifest(folder), key: expected}, indent=1))


def _hub_hash(path: Path, ref: HubRef, offline: bool) -> str:
    """Ask the Hub for the hash of a cached copy the zoo never verified (one HEAD request)."""
    if offline:
        raise WeightsError(f"cannot verify the cached copy of {ref} offline: the cache holds a copy with no "
                           "recorded hash; run `zoo pull` online once")
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    commit = (_snapshot(path) or (None, ref.revision))[1].split("/")[0]
    try:
        meta = get_hf_file_metadata(hf_hub_url(ref.repo_id, ref.filename, revision=commit, endpoint=endpoint()))
    except Exception as exc:
        raise _explain(exc, ref) from exc
    return (meta.etag or "").strip('"').removeprefix("W/").strip('"')


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file (what the Hub reports as ETag for non-LFS files)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evict(pointer: Path, blob: Path) -> None:
    for p in {pointer, blob}:
        p.unlink(missing_ok=True)


# -- models from a repository laid out as `zoo export` writes it -------------------------------


def read_config(ref: HubRef, offline: bool | None = None) -> dict[str, Any] | None:
    """The repository's config.json at ``ref``'s revision, or None when it has none."""
    try:
        path = download(ref.sibling(CONFIG_FILE), offline=offline)
    except HubFileNotFound:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{ref.sibling(CONFIG_FILE)} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("architecture"), str):
        raise WeightsError(f"{ref.sibling(CONFIG_FILE)} does not name an 'architecture'")
    return data


def model_source(name: str, weights: str | None, offline: bool | None = None) -> tuple[str, str, dict | None]:
    """For a hf:// model or weights: (architecture name, weights reference, config.json or None).

    ``name`` may itself be ``hf://ORG/REPO[@REV]``: the architecture then comes from config.json.
    Otherwise an architecture named by config.json must be ``name``'s (aliases count).
    """
    from registry.manager import get_registry

    repo = name.startswith(SCHEME)
    ref = parse_ref(weights) if weights else parse_ref(name, default_file=WEIGHTS_FILE)
    config = read_config(ref, offline)
    if repo:
        if config is None:
            raise WeightsError(f"{name} has no {CONFIG_FILE}; use --model ARCHITECTURE --weights {ref}")
        return config["architecture"], str(ref), config
    if config is not None and not name:  # no --model: the repository says what it is
        return config["architecture"], str(ref), config
    if config is not None:
        from zoo.weights.names import parse_model

        wanted, found = get_registry().get(parse_model(name)[0]), get_registry().get(config["architecture"])
        if wanted.name != found.name:
            raise WeightsError(
                f"{ref.sibling(CONFIG_FILE)} is for {found.name!r}, not {wanted.name!r}; "
                f"use --model {found.name} (or --model {SCHEME}{ref.repo_id}@{ref.revision})"
            )
    return name, str(ref), config


# -- zoo pull ----------------------------------------------------------------------------------


def pull_targets(model: str) -> list[tuple[HubRef, str | None, bool]]:
    """What ``zoo pull MODEL`` fetches: (file, pinned sha256, required) triples.

    ``MODEL[:TAG]`` is a pretrained card whose file is on the Hub; ``hf://ORG/REPO[@REV]`` is an
    exported repository (weights plus its config.json); ``hf://ORG/REPO/FILE@REV`` one file.
    """
    if model.startswith(SCHEME):
        ref = parse_ref(model, default_file=WEIGHTS_FILE)
        config = [(ref.sibling(CONFIG_FILE), None, False)] if ref.filename == WEIGHTS_FILE else []
        return [(ref, None, True), *config]
    from registry.manager import get_registry
    from zoo.weights.names import parse_model, pretrained_card

    arch_name, tag = parse_model(model)
    arch = get_registry().get(arch_name)
    card = pretrained_card(arch, tag)
    if card is None:
        raise WeightsError(f"{arch.name} has no pretrained weights to pull")
    if not card.file.startswith(SCHEME):
        raise WeightsError(f"{arch.name}.{card.tag} ships with the zoo ({card.file}); there is nothing to pull")
    return [(parse_ref(card.file), card.sha256, True)]


def pull(model: str, *, offline: bool | None = None, tqdm_class: Any = None) -> list[Path]:
    """Fill the cache for ``model`` (see :func:`pull_targets`), re-checking revisions online."""
    paths = []
    for ref, pin, required in pull_targets(model):
        try:
            paths.append(download(ref, pin, offline=offline, refresh=True, tqdm_class=tqdm_class))
        except HubFileNotFound:
            if required:
                raise
    return paths
