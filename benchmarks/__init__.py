"""Benchmarks a user runs again, each as `python -m benchmarks.NAME` from the repository root; figures in RESULTS.md."""
