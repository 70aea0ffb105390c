"""Whole processes: `rhcli --help`, `rhcli run` of a trivial function and `rhcli up` on a
warm daemon, each beside `python -c pass`; and the first `rhcli up` of an empty root,
beside a bare Ray start."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import REPO, Bench, rhcli_command
from benchmarks.stats import Row, ms, timed
from rhcli.config.paths import DaemonPaths

# Modules `rhcli run` should not need: it imports gRPC, never Ray; on a warm cluster it
# parses no YAML (the manifest cache), builds no pydantic model, and over SSH goes
# through the OpenSSH master without paramiko.
UNWANTED = ("ray", "sky", "pandas", "numpy", "pydantic", "yaml", "paramiko")


def run(bench: Bench) -> list[Row]:
    assert bench.target is not None
    target = bench.target
    n = bench.reps.processes
    env = target.cli_env()
    base = [*rhcli_command(), *target.cli_args()]

    def process(args: list[str], expect: str | None = None) -> None:
        done = subprocess.run(
            [*base, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or (expect is not None and done.stdout.strip() != expect):
            raise SystemExit(f"rhcli {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")

    def bare_python() -> None:
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    rows = []
    if target.name == "local":  # neither depends on the cluster: measured once
        bench.log(f"  processes: {n} each of python -c pass, rhcli --help")
        python = timed(bare_python, calls=n, warmup=2)
        helped = timed(lambda: process(["--help"]), calls=n, warmup=2)
        rows += [
            Row("python", "floor: `python -c pass`", "ms", ms(python)),
            Row("cli_help", "`rhcli --help`, whole process", "ms", ms(helped), floor=("python",)),
        ]
    bench.log(f"  processes: {n} each of rhcli run, rhcli up")
    ran = timed(
        lambda: process(["run", "benchmarks.workload:add", "1", "2"], "3"), calls=n, warmup=2
    )
    upped = timed(lambda: process(["up"]), calls=n, warmup=1)
    imported = cli_imports(env, target.cli_args())
    rows += [
        Row(
            "cli_run",
            "`rhcli run` of add, warm daemon, whole process",
            "ms",
            ms(ran),
            floor=("python",),
            extra={"heavy_modules_imported": imported},
        ),
        Row(
            "cli_up_warm", "`rhcli up`, warm daemon, nothing changed", "ms", ms(upped), ("python",)
        ),
    ]
    return rows


def cli_imports(env: dict[str, str], cli_args: list[str]) -> list[str]:
    """Which of UNWANTED a `rhcli run` imports (it should be none)."""
    script = (
        "import sys\n"
        "from rhcli.cli.main import main\n"
        "try:\n"
        f"    main({[*cli_args, 'run', 'benchmarks.workload:add', '1', '2']!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('IMPORTS', [m for m in {UNWANTED!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    for line in done.stdout.splitlines():
        if line.startswith("IMPORTS "):
            found: list[str] = json.loads(line[len("IMPORTS ") :].replace("'", '"'))
            return found
    raise SystemExit(f"the import check failed:\n{done.stderr}")


def first_up(bench: Bench) -> list[Row]:
    """`rhcli up local` on a root that does not exist yet: daemon, Ray, first status."""
    assert bench.target is not None
    cli_args = bench.target.cli_args()
    samples = []
    for rep in range(bench.reps.first_up):
        bench.log(f"  first `rhcli up` of an empty root: {rep + 1} of {bench.reps.first_up}")
        root = Path(tempfile.mkdtemp(prefix="rhb-up-", dir="/tmp"))
        shutil.rmtree(root)  # empty: not even the folder
        bench.own_root(root)
        env = dict(bench.target.cli_env(), RHCLI_HOME=str(root))
        try:
            start = time.perf_counter()
            _rhcli(env, [*cli_args, "up", "local"])
            samples.append(time.perf_counter() - start)
        finally:
            _rhcli(env, [*cli_args, "down", "local"], check=False)
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(DaemonPaths(root).ray_temp_dir, ignore_errors=True)
    return [Row("first_up", "first `rhcli up` of an empty root", "s", samples, ("ray_init",))]


def _rhcli(env: dict[str, str], args: list[str], *, check: bool = True) -> None:
    done = subprocess.run(
        [*rhcli_command(), *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise SystemExit(f"rhcli {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
