"""`python -m rhcli.server`: run the daemon in the foreground (clients start it detached)."""

import sys

from rhcli.server.daemon import main

sys.exit(main())
