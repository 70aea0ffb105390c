"""The single source of rhcli's version; the daemon and the client compare it on connect."""

__version__ = "0.1.0"
