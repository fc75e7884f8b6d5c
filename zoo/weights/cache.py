"""`zoo cache`: list, verify and clear the zoo's files in the Hugging Face cache, without any request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from zoo.weights import hub
from zoo.weights.files import sha256_file



@dataclass(frozen=True)
class CachedFile:
    """One cached file of a repository revision, as `zoo cache` shows it."""

    repo_id: str
    revision: str
    refs: tuple[str, ...]
    filename: str
    size: int
    path: Path
    blob: Path


def _scan() -> Any:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        return scan_cache_dir(hub.cache_dir())
    except CacheNotFound:
        return None


def cache_files(everything: bool = False) -> list[CachedFile]:
    """Cached model files of the zoo's repositories (those whose config.json names a registered
    architecture, or that a pretrained card points at); ``everything`` lists all model repos."""
    info = _scan()
    if info is None:
        return []
    rows = [
        CachedFile(repo.repo_id, rev.commit_hash, tuple(sorted(rev.refs)), f.file_name, f.size_on_disk,
                   f.file_path, f.blob_path)
        for repo in info.repos if repo.repo_type == "model" and (everything or _is_zoo_repo(repo))
        for rev in repo.revisions for f in rev.files
    ]
    return sorted(rows, key=lambda r: (r.repo_id, r.revision, r.filename))


def _is_zoo_repo(repo: Any) -> bool:
    from registry.manager import get_registry

    archs = get_registry().architectures.values()
    card_repos = {hub.parse_ref(p.file).repo_id for a in archs for p in a.pretrained if p.file.startswith(hub.SCHEME)}
    names = {n for a in archs for n in (a.name, *a.aliases)}
    return repo.repo_id in card_repos or any(
        _config_architecture(f.file_path) in names
        for rev in repo.revisions for f in rev.files if f.file_name == hub.CONFIG_FILE
    )


def _config_architecture(path: Path) -> str | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("architecture") if isinstance(data, dict) else None


def verify_cache(everything: bool = False, delete: bool = False) -> Iterator[tuple[CachedFile, str]]:
    """Yield (file, "ok" | "corrupt" | "unverified") for every cached file, without any request;
    "unverified": a copy the zoo never verified (no hash in its name, none recorded). With
    ``delete``, corrupt files are removed."""
    for row in cache_files(everything):
        expected = hub.known_hash(row.path)
        status = "unverified" if expected is None else (
            "ok" if hub.matches(expected, row.blob, sha256_file(row.blob)) else "corrupt")
        if status == "corrupt" and delete:
            hub.evict(row.path, row.blob)
        yield row, status


def clear_cache(repos: list[str] | None = None, everything: bool = False) -> tuple[int, int]:
    """Delete cached revisions of the named repositories (default: all of the zoo's, or every model
    repo with ``everything``) with huggingface_hub's delete strategy; return (revisions, bytes)."""
    info = _scan()
    if info is None:
        return 0, 0
    chosen = [r for r in info.repos if r.repo_type == "model"
              and (r.repo_id in repos if repos else (everything or _is_zoo_repo(r)))]
    revisions = [rev.commit_hash for r in chosen for rev in r.revisions]
    if not revisions:
        return 0, 0
    strategy = info.delete_revisions(*revisions)
    strategy.execute()
    return len(revisions), strategy.expected_freed_size
