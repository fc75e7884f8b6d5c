"""Atomic writes: a temp file beside the target, then published in one step; nothing partial survives.

``atomic_path(target)`` moves the finished temp file over the target (``os.replace``), as every
caller had it. ``atomic_path(target, replace=False)`` publishes it only where no file of that name
exists, and raises FileExistsError (the temp file removed) when one appeared meanwhile: a hard
link then the temp name removed, or ``renameat2(RENAME_NOREPLACE)`` where the file system has no
hard links. Temp names are ``.NAME.XXXXXXXX.part.EXT``; :func:`is_temp_name` tells them apart, so
that folder walks never take a write in progress (or one a kill -9 left) for an input.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

TEMP_NAME = re.compile(r"\..+\.[A-Za-z0-9_]+\.part(\.[^.]+)?")
# link(2) errors meaning "this file system has no hard links here", not "the name is taken"
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


@contextlib.contextmanager
def atomic_path(target: Path, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success publish it as the target.

    ``replace=False``: never over an existing file; FileExistsError if the target exists by then.
    """
    target = Path(target)
    tmp = temp_path(target)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        publish(tmp, target, replace)
    except BaseException:  # Ctrl-C included: never leave a partial file behind
        tmp.unlink(missing_ok=True)
        raise


def temp_path(target: Path) -> Path:
    """Create (empty, 0600) and return a new hidden temp file ``.NAME.XXXXXXXX.part.EXT`` beside ``target``."""
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    return Path(name)


def run_temp_path(target: Path, tag: str) -> Path:
    """Create (empty, 0600) and return the temp file of ``target`` for one run, ``.NAME.TAG.part.EXT``.

    An engine that retries a file after its worker died (Ray) passes the run's ``tag`` (letters and
    digits): a name of this run found here is what the dead try left, and it is removed first, with
    the writer's own temp files beside it. Other runs have other tags.
    """
    tmp, _ = _run_names(Path(target), tag)
    _remove_dead_write(tmp)
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return tmp


def count_try(target: Path, tag: str) -> int:
    """Count one more try at ``target`` in run ``tag`` and return the count (1 for the first), kept
    in a temp file (``.NAME.TAG_tries.part``) that outlives a killed worker; gone with
    :func:`remove_run_temps`."""
    _, tries = _run_names(Path(target), tag)
    try:
        count = int(tries.read_text() or 0) + 1
    except (OSError, ValueError):
        count = 1
    tries.write_text(str(count))
    return count


def remove_run_temps(target: Path, tag: str) -> None:
    """Remove what run ``tag`` left for ``target``: a killed worker's temp files and the try count.

    Cheap when there is nothing: the folder is listed only when the run's temp file is there."""
    tmp, tries = _run_names(Path(target), tag)
    _remove_dead_write(tmp)
    tries.unlink(missing_ok=True)


def _run_names(target: Path, tag: str) -> tuple[Path, Path]:
    return (target.parent / f".{target.name}.{tag}.part{target.suffix}",
            target.parent / f".{target.name}.{tag}_tries.part")


def _remove_dead_write(tmp: Path) -> None:
    if os.path.lexists(tmp):
        for path in [tmp, *tmp.parent.glob(glob.escape(f".{tmp.name}.") + "*.part*")]:  # and the writer's
            Path(path).unlink(missing_ok=True)


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of :func:`temp_path`'s (a write in progress or left by a kill)."""
    return TEMP_NAME.fullmatch(name) is not None


def publish(tmp: Path, target: Path, replace: bool = True) -> None:
    """Give the finished ``tmp`` the name ``target`` in one step; ``tmp`` is gone afterwards.

    ``replace=False`` never replaces a file (nor a link, nor anything) already at ``target``:
    FileExistsError then, and ``tmp`` is left for the caller to remove.
    """
    if replace:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        _rename_noreplace(tmp, target)
        return
    Path(tmp).unlink(missing_ok=True)


def _rename_noreplace(tmp: Path, target: Path) -> None:
    """``renameat2(..., RENAME_NOREPLACE)`` (Linux): a rename that fails with EEXIST over a file."""
    func = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if func is None:
        raise OSError(errno.ENOTSUP, "this system cannot publish a file without replacing one", str(target))
    at_fdcwd, rename_noreplace = -100, 1
    if func(at_fdcwd, os.fsencode(tmp), at_fdcwd, os.fsencode(target), rename_noreplace) != 0:
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS):  # the file system has no such rename either
            raise OSError(code, "this file system cannot publish a file without replacing one", str(target))
        raise OSError(code, os.strerror(code), str(target))  # EEXIST: FileExistsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
