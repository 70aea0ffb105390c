"""The cases of the suite, one module per kind; each exposes run(bench) -> list[Row]."""
