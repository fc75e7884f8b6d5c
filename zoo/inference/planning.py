"""Planning a batch before anything runs: inputs to jobs, earlier outputs left out, every output path.

The whole batch is planned first, so that no output can land on an input of the same batch, on
another job's output, outside the output folder, or under a name that is not an image format.
Rules for a single file become that job's one-line ``error`` (the batch goes on); rules broken by
the command itself (a template that leaves the output folder, ``-o x.txt``) raise ZooError before
anything runs.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import string
from dataclasses import dataclass
from pathlib import Path, PurePath

from registry.errors import ImageWriteError, ZooError
from zoo.atomic import is_temp_name
from zoo.photo.formats import READABLE, output_suffix
from zoo.photo.imageio import FORMATS

DEFAULT_TEMPLATE = "{stem}_denoised-{model}{ext}"
TEMPLATE_FIELDS = ("stem", "name", "ext", "model")
EXTENSIONS = ", ".join(FORMATS)


@dataclass
class Job:
    """One input and where its output goes; ``error`` is set when it cannot or did not run.

    ``base`` is the folder the input was found in when a directory was given, so that outputs of
    a recursive walk keep their sub-folders under ``--out-dir``. ``overwrite``: the output may
    replace an existing file (``--overwrite``); otherwise it is published only where none is.
    """

    source: Path
    target: Path | None = None
    error: str | None = None
    skipped: str | None = None
    base: Path | None = None
    found: bool = False  # came from a folder or a glob, not named on the command line
    overwrite: bool = False
    note: str | None = None  # said when the output is written: e.g. a GIF's output is a PNG
    seconds: float | None = None  # read, denoise and write, once it ran
    compare: Path | None = None  # --compare: the side-by-side crops beside the output (zoo.inference.compare)


# -- inputs


def expand_inputs(inputs: list[str], recursive: bool = False) -> list[Job]:
    """Files, directories (their images) and globs, in order; unmatched ones become failed jobs.

    A named FIFO, device or socket is a failed job, never opened (reading one would hang). Folders
    and globs give regular files only, and never the zoo's own temp files (``.NAME.X.part.EXT``).
    """
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            jobs += [Job(p, base=path, found=True) for p in _images_in(path, recursive)]
        elif path.exists() or not glob.has_magic(item):
            jobs.append(Job(path, error=not_regular(path) if path.exists() else f"no such file: {item}"))
        else:
            matches = sorted(Path(p) for p in glob.glob(item, recursive=recursive))
            found = [Job(p, found=True) for p in matches if p.is_file() and not is_temp_name(p.name)]
            jobs += found or [Job(path, error=f"no file matches {item}")]
    return jobs


def files_from(list_file: str | Path) -> list[Job]:
    """The files a list names (``--files-from``: one path per line, relative to the current folder,
    blank lines ignored), as jobs; names are taken literally (no globs). A missing or unreadable
    file becomes that job's error; a list that cannot be read raises ZooError."""
    try:
        lines = Path(list_file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ZooError(f"cannot read --files-from {list_file}: {getattr(exc, 'strerror', None) or exc}") from None
    paths = [Path(line) for line in lines if line.strip()]
    return [Job(p, error=not_regular(p) if p.exists() else f"no such file: {p} (named in {list_file})")
            for p in paths]


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return [p for p in sorted(folder.glob(pattern))
            if p.suffix.lower() in READABLE and not is_temp_name(p.name) and p.is_file()]


def not_regular(path: Path) -> str | None:
    """A one-line refusal when ``path`` (followed through links) is not a regular file; None if it is.

    Only ``stat`` is used: opening a FIFO for reading blocks until a writer comes.
    """
    try:
        kind = file_kind(path)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None if kind is None else f"{path} is {kind}, not an image file; it was not read"


def file_kind(path: Path) -> str | None:
    """None for a regular file (links followed), else what it is: "a FIFO (named pipe)", "a device"..."""
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


# -- the template and -o


def check_template(template: str, label: str = "model") -> str:
    """Validate a file-name template; raise ZooError naming the fields it may use, or when its
    outputs would leave the output folder (``../x``) or not be an image format (``{stem}.txt``).
    An absolute template is the user's own folder and is taken as written."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ZooError(f"bad --name-template {template!r}: {exc}") from exc
    unknown = names - set(TEMPLATE_FIELDS)
    if unknown or not names & {"stem", "name"}:
        fields = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
        raise ZooError(f"bad --name-template {template!r}: use {fields}, including {{stem}} or {{name}}")
    sample = PurePath(_render(template, PurePath("photo.png"), label))
    if not sample.is_absolute() and _escapes(sample):
        raise ZooError(f"bad --name-template {template!r}: it leads out of the output folder; outputs stay in "
                       "--out-dir (or beside the input): drop the '..' or write an absolute path")
    if sample.suffix.lower() not in FORMATS:
        raise ZooError(f"bad --name-template {template!r}: it names the output of photo.png {sample.name!r}, "
                       f"not an image format the zoo writes ({EXTENSIONS})")
    return template


def check_output(output: Path | None) -> None:
    """Raise ZooError when ``-o`` does not end in an image format the zoo writes."""
    if output is not None and output.suffix.lower() not in FORMATS and not output.is_dir():
        what = f"'{output.suffix}' is" if output.suffix else "a name without an extension is"
        raise ZooError(f"cannot write {output}: {what} not an image format the zoo writes; use {EXTENSIONS}")


def _render(template: str, source: PurePath, label: str) -> str:
    """The output name; ``{ext}`` is a suffix the zoo can write (a GIF's output is a PNG)."""
    return template.format(stem=source.stem, model=label, ext=output_suffix(Path(source))[0], name=source.name)


def _escapes(relative: PurePath) -> bool:
    depth = 0
    for part in relative.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return True
    return False


# -- earlier outputs


def drop_own_outputs(
    jobs: list[Job], label: str, template: str = DEFAULT_TEMPLATE, out_dir: Path | None = None,
    output: Path | None = None,
) -> int:
    """Remove, in place, files found in folders or globs that sit where this command writes its
    outputs under a name it would give one (``x_denoised-mwrcanet.png`` beside the inputs for
    ``--model mwrcanet``; any ``{name}`` inside ``--out-dir clean``), so that running the same
    command again does not denoise its earlier outputs; with ``-o``, a found file at that path.
    Files named explicitly always run, and so does a file whose own output would be itself
    (refused later, with the reason). Returns how many were removed."""
    check_template(template, label)
    own = re.compile(_template_regex(template, label))
    absolute = PurePath(template).is_absolute()
    depth = len(PurePath(_render(template, PurePath("photo.png"), label)).parts)

    def earlier_output(job: Job) -> bool:
        if not job.found:
            return False
        if output is not None:
            return _same_place(job.source, output)
        if absolute:
            return bool(own.fullmatch(os.path.abspath(job.source)) or own.fullmatch(str(job.source.resolve())))
        if not own.fullmatch("/".join(job.source.parts[-depth:])):
            return False
        if out_dir is not None and not _inside(job.source, out_dir):
            return False
        return not _same_place(job.source, target_of(job, label, out_dir, template, create=False))

    kept = [job for job in jobs if not earlier_output(job)]
    dropped = len(jobs) - len(kept)
    jobs[:] = kept
    return dropped


def _template_regex(template: str, label: str) -> str:
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append({"model": re.escape(label), "ext": r"\.[^./]+"}.get(field, ".+"))
    return "".join(parts)


# -- outputs


def plan_outputs(
    jobs: list[Job], label: str, output: Path | None, out_dir: Path | None, overwrite: bool,
    template: str = DEFAULT_TEMPLATE,
) -> None:
    """Set each job's target; mark it skipped (exists) or failed (an input of the batch, unsafe,
    duplicate, unwritable, not an image format). Raise ZooError when the command itself is wrong
    (``-o`` with several inputs or a non-image name, a template that leaves the output folder)."""
    if output is not None and len(jobs) > 1:
        raise ZooError("-o/--output takes a single input; use --out-dir for several")
    check_template(template, label)
    check_output(output)
    inputs = _Inputs([job.source for job in jobs])
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.error:
            continue
        job.target = output or target_of(job, label, out_dir, template)
        job.overwrite = overwrite
        if output is None and "{ext}" in template:
            job.note = output_suffix(job.source)[1]
        job.error = (_duplicate(job, seen) or _unsafe(job.source, job.target) or inputs.clash(job.target)
                     or _not_an_image_name(job.target))
        if job.error is None and job.target.exists() and not overwrite:
            job.skipped = f"output {job.target} exists; pass --overwrite to replace it"


def target_of(job: Job, label: str, out_dir: Path | None, template: str, create: bool = True) -> Path:
    """Where ``job``'s output goes: in ``out_dir`` (keeping a walk's sub-folders) or beside the input.

    Raise ZooError when a relative template leads out of that folder (through a link, say)."""
    name = _render(template, job.source, label)
    if PurePath(name).is_absolute():  # the user's own folder, taken as written
        return Path(name)
    if out_dir is None:
        folder = job.source.parent
    else:
        sub = job.source.parent.relative_to(job.base) if job.base else Path()
        folder = out_dir / sub
        if create:
            _make_dir(folder)
    target = folder / name
    if not _inside(target, folder):
        raise ZooError(f"--name-template {template!r} puts {target} outside {folder}; outputs stay in the "
                       "output folder")
    return target


class _Inputs:
    """Every input of the batch, by path (links not followed) and by file identity (hard links too)."""

    def __init__(self, sources: list[Path]) -> None:
        self.paths = {_location(p) for p in sources}
        self.files = set()
        for path in sources:
            with_stat = _stat(path)
            if with_stat is not None:
                self.files.add((with_stat.st_dev, with_stat.st_ino))

    def clash(self, target: Path) -> str | None:
        found = _stat(target)
        if _location(target) in self.paths or (found is not None and (found.st_dev, found.st_ino) in self.files):
            return (f"output {target} is also an input of this batch; it is never overwritten, "
                    "change --name-template or --out-dir")
        return None


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _location(path: Path) -> Path:
    """The absolute path with its folders resolved and the last name kept as is."""
    return Path(path).parent.resolve() / Path(path).name


def _inside(path: Path, folder: Path) -> bool:
    return _location(path).is_relative_to(Path(folder).resolve())


def _same_place(a: Path, b: Path) -> bool:
    return _location(a) == _location(b)


def _duplicate(job: Job, seen: dict[Path, Path]) -> str | None:
    key = job.target.resolve()
    if key in seen:
        return f"output {job.target} is also the output of {seen[key]}; change --name-template"
    seen[key] = job.source
    return None


def _make_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from exc


def _unsafe(source: Path, target: Path) -> str | None:
    if target.exists() and source.exists() and os.path.samefile(source, target):
        return f"output {target} is the input; it is never overwritten, choose another output"
    if target.is_dir():
        return f"output {target} is a directory; use --out-dir for a folder"
    if target.exists() and (kind := file_kind(target)):
        return f"output {target} is {kind}, not a file to replace; choose another output"
    if not target.parent.is_dir():
        return f"cannot write {target}: folder {target.parent} does not exist"
    if not os.access(target.parent, os.W_OK):
        return f"cannot write {target}: folder {target.parent} is not writable"
    return None


def _not_an_image_name(target: Path) -> str | None:
    if target.suffix.lower() in FORMATS:
        return None
    what = f"'{target.suffix}' is" if target.suffix else "a name without an extension is"
    return (f"cannot write {target}: {what} not an image format the zoo writes ({EXTENSIONS}); "
            "give the output one with --name-template")
