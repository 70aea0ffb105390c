"""Installing a function's requirements into the environment the daemon's workers run in.

A requirement is a pip spec (``torch>=2``), a local path (``./`` or ``libs/mylib``: installed
editable, so code edits need no reinstall), or a requirements file (``requirements.txt``).
Work already done is skipped twice over: a fingerprint of the set (specs, the files'
contents, the local packages' build files) is remembered after a successful install, and a
set of plain specs that the environment already satisfies never starts pip at all.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

log = logging.getLogger(__name__)

_BUILD_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


@dataclass(frozen=True)
class Plan:
    """The pip arguments for a requirement set, and its fingerprint."""

    pip_args: tuple[str, ...]
    fingerprint: str
    plain_specs: tuple[str, ...] | None  # every entry as a plain spec, or None


@dataclass(frozen=True)
class InstallResult:
    ok: bool
    skipped: bool
    fingerprint: str
    reason: str = ""


def plan(reqs: list[str], code_root: Path) -> Plan:
    """Resolve entries against code_root: files, local packages, or pip specs."""
    args: list[str] = []
    digest = hashlib.sha256()
    specs: list[str] | None = []
    for entry in reqs:
        path = (code_root / Path(entry).expanduser()).resolve()
        looks_like_path = entry.startswith((".", "/", "~")) or "/" in entry
        if path.is_file():
            content = path.read_bytes()
            args += ["-r", str(path)]
            digest.update(b"file\0" + str(path).encode() + b"\0" + content)
            lines = _plain_lines(content.decode(errors="replace"))
            specs = None if specs is None or lines is None else specs + lines
        elif looks_like_path and path.is_dir():
            args += ["-e", str(path)]
            digest.update(b"dir\0" + str(path).encode())
            for name in _BUILD_FILES:
                build_file = path / name
                if build_file.is_file():
                    digest.update(name.encode() + b"\0" + build_file.read_bytes())
            specs = None
        else:
            args.append(entry)
            digest.update(b"spec\0" + entry.encode())
            if specs is not None:
                specs.append(entry)
        digest.update(b"\n")
    return Plan(tuple(args), digest.hexdigest()[:24], tuple(specs) if specs is not None else None)


def satisfied(specs: tuple[str, ...], *, depth: int = 0) -> bool:
    """True when every spec names an installed distribution of an acceptable version,
    with what each extra it names requires (``ray[serve]`` is not satisfied by a bare
    ``ray``: the extra's packages are what was asked for)."""
    for spec in specs:
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            return False
        if req.marker is not None and not req.marker.evaluate():
            continue
        if req.url:
            return False
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            return False
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            return False
        if req.extras and not _extras_satisfied(req, depth):
            return False
    return True


def _extras_satisfied(req: Requirement, depth: int) -> bool:
    if depth > 3:  # extras naming extras naming extras: let pip decide
        return False
    needed = []
    for line in metadata.requires(req.name) or []:
        dependency = Requirement(line)
        marker = dependency.marker
        # An extra's requirement is one whose marker holds only with that extra named.
        if marker is None or marker.evaluate({"extra": ""}):
            continue
        if any(marker.evaluate({"extra": extra}) for extra in req.extras):
            dependency.marker = None
            needed.append(str(dependency))
    return satisfied(tuple(needed), depth=depth + 1)


class ReqsInstaller:
    """Installs requirement sets one at a time with this interpreter's pip."""

    def __init__(self, done_dir: Path, python: str = sys.executable) -> None:
        self._done_dir = done_dir
        self._python = python
        self._lock = threading.Lock()
        done_dir.mkdir(parents=True, exist_ok=True)

    def install(self, reqs: list[str], code_root: Path) -> Iterator[str | InstallResult]:
        """Yields pip's output lines, then one InstallResult."""
        the_plan = plan(reqs, code_root)
        marker = self._done_dir / the_plan.fingerprint
        if not the_plan.pip_args or marker.exists():
            yield InstallResult(ok=True, skipped=True, fingerprint=the_plan.fingerprint)
            return
        if the_plan.plain_specs is not None and satisfied(the_plan.plain_specs):
            marker.touch()
            yield InstallResult(ok=True, skipped=True, fingerprint=the_plan.fingerprint)
            return
        with self._lock:
            command = [
                self._python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                *the_plan.pip_args,
            ]
            log.info("installing requirements: %s", " ".join(the_plan.pip_args))
            proc = subprocess.Popen(
                command,
                cwd=code_root,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                yield line.rstrip("\n")
            code = proc.wait()
        if code != 0:
            yield InstallResult(
                ok=False,
                skipped=False,
                fingerprint=the_plan.fingerprint,
                reason=f"pip install exited with status {code}",
            )
            return
        marker.touch()
        yield InstallResult(ok=True, skipped=False, fingerprint=the_plan.fingerprint)


def _plain_lines(text: str) -> list[str] | None:
    """The specs of a requirements file, or None when it uses options, URLs or includes."""
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-") or "://" in line or line.startswith((".", "/")):
            return None
        lines.append(line)
    return lines
