"""rhcli.config: the manifest (runhouse.yaml) and where rhcli keeps its state."""
