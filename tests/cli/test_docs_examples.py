"""Every example of docs/cli.md runs, and prints what the page says it prints.

The page's ```console blocks are sessions on the local cluster: each runs as one bash
script (so `ID=$(...)` carries to the next line) in a fresh git repository holding the
page's `tasks.py`, on a daemon root of this test's own (the first example starts it, as
the page shows). What each command prints, stdout and stderr together, is compared with
the lines under it, once both are normalised: run ids, times, durations, pids, ports,
paths and machine figures vary from run to run, table columns from the width of those,
and blank lines are left out. A block whose output depends on the machine or on timing
says so in an HTML comment right above it: `<!-- not checked: why -->` runs it without
comparing, `<!-- not run: why -->` skips it. A block that runs in rhcli's own repository
says `<!-- in the rhcli repository -->`.

RHCLI_DOCS_RECORD=FILE writes the page with every checked block's output as it came out
instead (for writing the page; read it before taking it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, processes_of_root

PAGE = REPO / "docs" / "cli.md"
# The paths the page shows, for the ones this test makes.
PAGE_PROJECT = "/home/me/demo"
PAGE_ROOT = "/home/me/.rhcli"
PAGE_PYTHON = "/home/me/demo/.venv/bin/python3"
MARK = "@@rhcli-docs-example@@"


@dataclass
class Block:
    line: int  # where it starts in the page (1-based)
    commands: list[str]
    outputs: list[list[str]]
    checked: bool = True
    run: bool = True
    in_repository: bool = False
    notes: list[str] = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    """The ```console blocks of the page, each as its commands and their output lines."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        above = " ".join(lines[max(0, i - 3) : i])
        block = Block(
            line=i + 1,
            commands=[],
            outputs=[],
            checked="<!-- not checked" not in above and "<!-- not run" not in above,
            run="<!-- not run" not in above,
            in_repository="<!-- in the rhcli repository -->" in above,
        )
        i += 1
        while lines[i].strip() != "```":
            if lines[i].startswith("$ "):
                block.commands.append(lines[i][2:])
                block.outputs.append([])
            else:
                block.outputs[-1].append(lines[i])
            i += 1
        found.append(block)
        i += 1
    return found


def normalise(text: str, places: dict[str, str]) -> list[str]:
    """Lines with everything that varies between runs replaced by a fixed word."""
    for actual, shown in places.items():
        text = text.replace(actual, shown)
    rules = [
        (r"\b([A-Za-z_]\w*)-\d{8}-\d{6}-[0-9a-f]{12}", r"\1-RUNID"),
        (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?Z?", "TIME"),
        (r"\b1[6-9]\d{8}(\.\d+)?\b", "UNIXTIME"),
        (r'"(host|python|home)": "[^"]*"', r'"\1": "X"'),
        (r"\b(pid|worker_pid\"?:?) ?\d+", r"\1 N"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r"\b\d+[smhd] ago\b", "AGE"),
        (r"\b\d+(\.\d+)?(ms|s|m\d\ds|h\d\dm)\b", "DURATION"),
        (r"\b\d+\.\d+\b", "NUMBER"),
        (r"up \d\d:\d\d:\d\d", "up CLOCK"),
        (r"^(\s+ray\s.*)$", "RAY FIGURES"),
        (r"\d+ warm workers", "N warm workers"),
        (r" {2,}", "  "),
    ]
    lines = []
    for line in text.splitlines():
        for pattern, replacement in rules:
            line = re.sub(pattern, replacement, line)
        if line.strip():  # blank lines say nothing (a progress bar leaves one, or not)
            lines.append(line.rstrip())
    return lines


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The page's project (a git repository holding its tasks.py) and a root of its own."""
    base = tmp_path_factory.mktemp("docs")
    project = base / "demo"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    text = PAGE.read_text()
    tasks = text.split("```python\n", 1)[1].split("```", 1)[0]
    (project / "tasks.py").write_text(tasks)
    root = base / "root"
    env = {
        **os.environ,
        "RHCLI_HOME": str(root),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "NO_COLOR": "1",
    }
    env.pop("RHCLI_FILE", None)
    places = {
        str(project): PAGE_PROJECT,
        str(root): PAGE_ROOT,
        str(Path(sys.executable).parent / "python3"): PAGE_PYTHON,
        sys.executable: PAGE_PYTHON,
    }
    yield {"project": project, "root": root, "env": env, "places": places}
    subprocess.run(["rhcli", "down"], env=env, cwd=project, capture_output=True, check=False)
    deadline = time.monotonic() + 30
    while processes_of_root(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of_root(root) == []
    shutil.rmtree(base, ignore_errors=True)


def run_block(block: Block, demo: dict[str, object]) -> list[str]:
    """Run a block's commands as one bash script; what each printed (stdout and stderr
    as they came, in one stream)."""
    cwd = REPO if block.in_repository else demo["project"]
    for command, output in zip(block.commands, block.outputs, strict=True):
        # `cat FILE` shows a file the page's reader made: make it from what is shown.
        made = re.fullmatch(r"cat (\S+)", command)
        if made and not (Path(str(cwd)) / made.group(1)).exists():
            (Path(str(cwd)) / made.group(1)).write_text("\n".join(output) + "\n")
    script = "\n".join(f"echo {MARK}\n{command}" for command in block.commands)
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        cwd=cwd,
        env=demo["env"],  # type: ignore[arg-type]
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    return done.stdout.split(MARK + "\n")[1:]


def test_every_example_of_the_cli_page_prints_what_the_page_says(
    demo: dict[str, object],
) -> None:
    page = PAGE.read_text()
    places: dict[str, str] = demo["places"]  # type: ignore[assignment]
    wrong = []
    replaced: dict[int, tuple[int, list[str]]] = {}  # first output line -> (count, lines)
    for block in blocks(page):
        if not block.run:
            continue
        printed = run_block(block, demo)
        assert len(printed) == len(block.commands), (block.line, printed)
        if not block.checked:
            continue
        at = block.line  # index of the block's first command line
        for command, expected, actual in zip(block.commands, block.outputs, printed, strict=True):
            want = normalise("\n".join(expected), places)
            got = normalise(actual.rstrip("\n"), places)
            if want != got:
                wrong.append(f"docs/cli.md:{at + 1}: $ {command}\n  page: {want}\n  ran:  {got}")
            shown = actual.rstrip("\n")
            for real, name in places.items():
                shown = shown.replace(real, name)
            replaced[at + 1] = (len(expected), shown.split("\n") if shown else [])
            at += 1 + len(expected)
    record = os.environ.get("RHCLI_DOCS_RECORD")
    if record:
        lines = page.splitlines()
        out: list[str] = []
        i = 0
        while i < len(lines):
            if i in replaced:  # popped: an empty output region must not hold i still
                count, new = replaced.pop(i)
                out.extend(new)
                i += count
                continue
            out.append(lines[i])
            i += 1
        Path(record).write_text("\n".join(out) + "\n")
    assert not wrong, "\n\n".join(wrong)
