"""Helpers shared by the test suites, benchmarks and scripts: importable as
``tests.support`` from the repository root (pytest sets ``pythonpath = ["."]``)."""
