"""Benchmarks of cors_admin (not tests): run ``python benchmarks/run.py``."""
