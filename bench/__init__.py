"""Benchmarks: plain scripts that print their figures (run `python bench/run.py`)."""
