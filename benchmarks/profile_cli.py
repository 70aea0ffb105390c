"""cProfile of one whole `rhcli` command, for what a CLI process spends its time on.

    python benchmarks/profile_cli.py OUT.prof [RHCLI ARGS...]
    python -c "import pstats; pstats.Stats('OUT.prof').sort_stats('cumulative').print_stats(30)"

Runs `rhcli ARGS` in this process (exactly as the console script would, with the current
environment: RHCLI_HOME, RHCLI_FILE, RHCLI_KNOWN_HOSTS, ...) under cProfile and writes
the profile to OUT.prof.
"""

from __future__ import annotations

import cProfile
import sys


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    profile = cProfile.Profile()
    profile.enable()
    try:
        from rhcli.cli.main import main as rhcli_main

        rhcli_main(args)
    except SystemExit:
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
