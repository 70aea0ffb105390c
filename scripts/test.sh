#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run the whole suite.
#   ./scripts/test.sh [PYTEST ARGS...]
# System packages (openssh-server, rsync, git) come from apt when missing and we are root;
# the Python environment is .venv beside this repo (created when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in sshd:openssh-server rsync:rsync git:git; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${tool%%:*}" ] || need+=("${tool#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing system packages: ${need[*]} (install them, then run again)" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,sky,serve]'
exec .venv/bin/python -m pytest "$@"
