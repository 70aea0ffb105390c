"""rhcli.server: the daemon that serves gRPC on a cluster and runs calls on Ray."""
