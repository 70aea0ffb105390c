#!/usr/bin/env bash
# Every gate in one command: lint, format check, types, then the whole test suite.
#   ./scripts/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "run ./scripts/test.sh once first (it creates .venv)" >&2; exit 1; }
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# server/ and config/ install as rhcli.server and rhcli.config; mypy cannot follow that
# mapping, so it checks an overlay tree laid out as the installed package is.
overlay=$(mktemp -d); trap 'rm -rf "$overlay"' EXIT
mkdir "$overlay/rhcli"
for entry in rhcli/*; do ln -s "$PWD/$entry" "$overlay/rhcli/"; done
ln -s "$PWD/server" "$overlay/rhcli/server"
ln -s "$PWD/config" "$overlay/rhcli/config"
(cd "$overlay" && "$OLDPWD/.venv/bin/mypy" --config-file "$OLDPWD/pyproject.toml" rhcli)
exec ./scripts/test.sh
