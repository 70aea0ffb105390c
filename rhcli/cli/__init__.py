"""rhcli.cli: the Typer command line, thin over the library."""
