"""Benchmarks: `python -m dispatcher bench match` (matching decision cost vs. a scan)."""
