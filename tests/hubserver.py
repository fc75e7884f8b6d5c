"""A tiny Hugging Face Hub on 127.0.0.1, real enough for huggingface_hub (which is not mocked).

It answers what DESIGN.md section 5 lists: HEAD/GET ``/{repo}/resolve/{rev}/{file}`` with
``X-Repo-Commit`` and ``ETag`` (sha256 for ``*.safetensors``, as for LFS files; the git blob sha1
otherwise, as for small git files), 404s with ``X-Error-Code``, and the upload endpoints that
``HfApi.create_repo`` / ``upload_folder`` call (``validate-yaml`` for README.md; ``preupload`` answers "regular" for every file,
so the commit carries the bytes inline and no LFS server is needed). Every request is recorded.
Faults for tests: ``tamper`` (same size, other bytes, original ETag) and ``truncate`` (HEAD
announces the full size, GET sends fewer bytes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest

# huggingface_hub reads these once, at import: set them before anything imports it. zoo.weights.hub also
# passes endpoint and cache per call, so the per-test monkeypatched values below are what count.
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def etag(name: str, data: bytes) -> str:
    return hashlib.sha256(data).hexdigest() if name.endswith(".safetensors") else git_sha1(data)


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> files
    branches: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit sha


class FakeHub:
    """The server's state; ``url`` is its HF_ENDPOINT, ``requests`` what it saw as (method, path)."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.tamper: set[str] = set()  # file names served with altered bytes
        self.truncate: set[str] = set()  # file names served short
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def commit(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """Add a commit on ``branch`` (files merged over its previous commit); return its sha."""
        repo = self.repos.setdefault(repo_id, Repo())
        parent = repo.commits.get(repo.branches.get(branch, ""), {})
        sha = hashlib.sha1(f"{repo_id}:{len(repo.commits)}:{sorted(files)}".encode()).hexdigest()
        repo.commits[sha] = {**parent, **files}
        repo.branches[branch] = sha
        return sha

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return repo.commits[repo.branches.get(revision, revision)]

    def seen(self, method: str | None = None) -> list[tuple[str, str]]:
        return [r for r in self.requests if method is None or r[0] == method]


def _handler(hub: FakeHub) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_HEAD(self) -> None:
            self._resolve(body=False)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/api/models/") and "/revision/" in path:
                return self._revision_info(path)
            self._resolve(body=True)

        def do_POST(self) -> None:
            hub.requests.append(("POST", self.path))
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length)
            path = urlsplit(self.path).path
            if path == "/api/repos/create":
                return self._create(json.loads(data))
            if path == "/api/validate-yaml":  # upload_folder checks a README.md's front matter first
                ok = json.loads(data)["content"].startswith("---\n")
                return self._json(200 if ok else 400, {"warnings": [], "errors": [] if ok else [{"message": "no YAML"}]})
            repo_id, _, action = path.removeprefix("/api/models/").rpartition("/")[0].rpartition("/")
            if action == "preupload":
                files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                         for f in json.loads(data)["files"]]
                return self._json(200, {"files": files})
            if action == "commit":
                return self._commit(repo_id, unquote(path.rpartition("/")[2]), data)
            self._json(404, {"error": "not found"})

        # -- downloads
        def _resolve(self, body: bool) -> None:
            hub.requests.append((self.command, self.path))
            parts = unquote(urlsplit(self.path).path).lstrip("/").split("/")
            repo_id, revision, name = "/".join(parts[:2]), "/".join(parts[3:4]), "/".join(parts[4:])
            repo = hub.repos.get(repo_id)
            if repo is None or parts[2:3] != ["resolve"]:
                return self._error("RepoNotFound", f"Repository {repo_id} not found")
            commit = repo.branches.get(revision, revision if revision in repo.commits else None)
            if commit is None:
                return self._error("RevisionNotFound", f"Invalid rev id: {revision}")
            data = repo.commits[commit].get(name)
            if data is None:
                return self._error("EntryNotFound", f"{name} does not exist", commit)
            served = _fault(hub, name, data)
            self.send_response(200)
            self.send_header("X-Repo-Commit", commit)
            self.send_header("ETag", f'"{etag(name, data)}"')
            self.send_header("Content-Length", str(len(data if not body else served)))
            self.end_headers()
            if body:
                self.wfile.write(served)

        def _revision_info(self, path: str) -> None:
            hub.requests.append(("GET", self.path))
            repo_id, _, revision = path.removeprefix("/api/models/").partition("/revision/")
            repo = hub.repos.get(repo_id)
            if repo is None:
                return self._error("RepoNotFound", "not found")
            sha = repo.branches.get(unquote(revision), unquote(revision))
            self._json(200, {"id": repo_id, "sha": sha, "siblings": [{"rfilename": f} for f in repo.commits[sha]]})

        # -- uploads
        def _create(self, body: dict) -> None:
            repo_id = f"{body.get('organization') or 'user'}/{body['name']}"
            hub.repos.setdefault(repo_id, Repo())
            self._json(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})

        def _commit(self, repo_id: str, branch: str, data: bytes) -> None:
            files = {}
            for line in data.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            sha = hub.commit(repo_id, files, branch)
            self._json(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{sha}", "commitOid": sha,
                             "pullRequestUrl": None})

        # -- helpers
        def _error(self, code: str, message: str, commit: str | None = None) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _json(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _fault(hub: FakeHub, name: str, data: bytes) -> bytes:
    if name in hub.tamper:
        return bytes([data[0] ^ 0xFF]) + data[1:]
    if name in hub.truncate:
        return data[: len(data) // 2]
    return data


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A running FakeHub as HF_ENDPOINT, with a fresh Hugging Face cache and online mode."""
    server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield server
    server.close()
