"""Shell completion: `rhcli completion bash|zsh|fish`, and what TAB offers.

The script a shell sources calls rhcli back with `_RHCLI_COMPLETE=complete_<shell>` set
(Typer's completion protocol); rhcli then prints candidates instead of running anything.
Commands and options complete from the command tree; these complete from the places that
know them:

- FN: the function names of the manifest in use (`-f` on the command line, else found as
  for any command);
- CLUSTER, `-c`: the manifest's cluster names (with `local`);
- RUN_ID: `last` and the newest run ids of the cluster, asked of its daemon only when it
  already runs (completion never starts a daemon, a cluster or SkyPilot).

A completion that cannot find its candidates (no manifest, a daemon that is down) offers
none rather than printing an error into the middle of the user's command line.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_RHCLI_COMPLETE"

_EXAMPLES = """Examples:

\b
  source <(rhcli completion bash)                      # this shell only
  echo 'source <(rhcli completion bash)' >> ~/.bashrc  # every bash from now on
  echo 'source <(rhcli completion zsh)' >> ~/.zshrc    # zsh, after compinit
  rhcli completion fish > ~/.config/fish/completions/rhcli.fish"""


def register(app: typer.Typer) -> None:
    app.command(
        "completion",
        short_help="Print the shell completion script for bash, zsh or fish.",
        help="Print the script that makes TAB complete rhcli's commands, options, "
        "function and cluster names (from runhouse.yaml) and run ids, for SHELL.",
        epilog=_EXAMPLES,
    )(completion)


def completion(
    shell: Annotated[
        str,
        typer.Argument(
            metavar="SHELL",
            help="bash, zsh or fish",
            autocompletion=lambda: list(SHELLS),
            show_default=False,
        ),
    ],
) -> None:
    # Typer's own script (the protocol its completion classes answer); public in
    # typer.completion, where mypy sees it as imported rather than exported.
    from typer.completion import (  # type: ignore[attr-defined]
        completion_init,
        get_completion_script,
    )

    from rhcli.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"no completion for shell {shell!r}; rhcli has it for {', '.join(SHELLS)}")
    completion_init()
    print(get_completion_script(prog_name="rhcli", complete_var=COMPLETE_VAR, shell=shell))


def enable() -> None:
    """Register Typer's completion classes, so `_RHCLI_COMPLETE=complete_bash` works."""
    from typer.completion import completion_init  # type: ignore[attr-defined]

    completion_init()


# --- what TAB offers -----------------------------------------------------------------------


def complete_functions(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    manifest = _manifest(ctx)
    if manifest is None:
        return []
    return [
        (name, spec.entrypoint)
        for name, spec in sorted(manifest.functions.items())
        if name.startswith(incomplete)
    ]


def complete_clusters(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    manifest = _manifest(ctx)
    names = dict(manifest.clusters) if manifest is not None else {"local": None}
    return [
        (name, getattr(spec, "type", "local") or "")
        for name, spec in sorted(names.items())
        if name.startswith(incomplete)
    ]


def complete_run_ids(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    from rhcli.errors import RhcliError

    found = [("last", "the newest run")] if "last".startswith(incomplete) else []
    try:
        from rhcli.clusters.registry import cluster
        from rhcli.runs_api import runs

        root = ctx.find_root().params
        name = ctx.params.get("cluster") or root.get("cluster")
        target = cluster(name, manifest=root.get("file"))
        listed = runs(cluster=target, limit=50, start=False)
    except RhcliError:  # no daemon up, no manifest: nothing to offer, and no noise
        return found
    return found + [
        (info.run_id, f"{info.function} {info.status}")
        for info in listed
        if info.run_id.startswith(incomplete)
    ]


def _manifest(ctx: typer.Context) -> Any:
    from rhcli.config.manifest import load
    from rhcli.errors import RhcliError

    try:
        return load(ctx.find_root().params.get("file"))
    except RhcliError:  # a manifest with an error: the command itself will say so
        return None
