#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run the whole suite.
#   ./scripts/test.sh [PYTEST ARGS...]
# System packages (openssh-server, rsync, git; chromium and chromium-driver for the
# dashboard's browser tests) come from apt when missing and we are root;
# the Python environment is .venv beside this repo (created when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in sshd:openssh-server rsync:rsync git:git chromium:chromium chromedriver:chromium-driver; do
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
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,sky,dashboard,serve]'
# Bytecode for the editable sources, written now: where PYTHONDONTWRITEBYTECODE=1 is set
# (as on these CI machines) no import ever writes it, and each of the suite's hundreds of
# rhcli, daemon and Ray worker processes would compile rhcli from source again.
.venv/bin/python -m compileall -q -j 0 rhcli server config tests >/dev/null
# Two workers (pytest-xdist): the suite mostly waits (daemons starting, hosts booting),
# and tests/conftest.py keeps each remote folder's cluster on one worker.
# RHCLI_TEST_WORKERS=0 runs everything in this one process.
workers=(-n "${RHCLI_TEST_WORKERS:-2}" --dist loadscope --no-loadscope-reorder)
# Started from a background job of a non-interactive shell (CI runners, `cmd &` in a
# script), this shell and its children inherit SIGINT as ignored, and a shell cannot undo
# that itself; Python then installs no KeyboardInterrupt handler. Give pytest Python's
# default (the tests that send SIGINT also set their own children's disposition).
if env --default-signal=INT true 2>/dev/null; then
  exec env --default-signal=INT .venv/bin/python -m pytest "${workers[@]}" "$@"
fi
exec .venv/bin/python -m pytest "${workers[@]}" "$@"
