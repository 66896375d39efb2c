"""Benchmarks. Each module runs on its own: ``python -m tools.bench.orm --help``."""
