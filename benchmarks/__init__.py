"""rhcli's benchmark suite: `python benchmarks/run_all.py [--quick] [--json OUT]`."""
