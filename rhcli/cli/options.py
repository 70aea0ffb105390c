"""Options and arguments several commands share, with their checks and completions.

Every value is checked when it is parsed, before anything is sent: a bad one is a usage
error (exit 2) that names the option and what it takes. Metavars are the words the help
uses (FN, RUN_ID, SECONDS, FILE), never Python type names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from rhcli.cli.completion import complete_clusters, complete_functions, complete_run_ids


def positive_seconds(value: float | None) -> float | None:
    """--timeout: a number of seconds above 0 (or not given)."""
    if value is not None and not value > 0:
        raise typer.BadParameter(
            f"{value:g} is not a number of seconds above 0; leave the option out for no limit"
        )
    return value


def at_least_one(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(f"{value} is not 1 or more")
    return value


def writable_file(value: Path | None) -> Path | None:
    """--output FILE: a file that can be written (its folder exists and is writable, and
    it is not a folder itself); checked before anything runs, so a bad path costs no run."""
    if value is None:
        return None
    path = value.expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise typer.BadParameter(f"{value} is a folder; name a file in it")
    if not folder.is_dir():
        raise typer.BadParameter(f"the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"the folder {folder} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise typer.BadParameter(f"{value} exists and is not writable")
    return path


FnArg = Annotated[
    str,
    typer.Argument(
        metavar="FN",
        help="a function name from runhouse.yaml, or module:function",
        autocompletion=complete_functions,
        show_default=False,
    ),
]
_RUN_ID_HELP = (
    "a run id (printed by `run --detach`, listed by `rhcli runs`), or `last` for the newest run"
)


def _run_id_argument(help_text: str, metavar: str = "RUN_ID") -> Any:
    return typer.Argument(
        metavar=metavar,
        help=help_text,
        autocompletion=complete_run_ids,
        show_default=False,
    )


RunIdArg = Annotated[str, _run_id_argument(_RUN_ID_HELP)]
# `rhcli logs`: a run id, or --endpoint instead.
OptionalRunIdArg = Annotated[
    str | None,
    _run_id_argument(_RUN_ID_HELP + "; or give --endpoint NAME instead", metavar="[RUN_ID]"),
]

ClusterArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[CLUSTER]",
        help="a cluster from runhouse.yaml (default: -c, else the manifest's default_cluster)",
        autocompletion=complete_clusters,
        show_default=False,
    ),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        "-c",
        metavar="NAME",
        help="the cluster (default: the global -c, else the manifest's default_cluster)",
        autocompletion=complete_clusters,
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="write the result to FILE instead of stdout: bytes as they are, a JSON "
        "result as JSON, anything else as its pickle (whole or not at all)",
        callback=writable_file,
        show_default=False,
    ),
]
