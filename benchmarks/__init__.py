"""Benchmarks (not tests). Run them from the repository root as modules,
e.g. ``python -m benchmarks.bench_server``, so that they share the test
credentials in ``tests/support``."""
