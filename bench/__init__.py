"""Benchmarks: ``python -m bench [NAME ...]``; each prints a small table.

Absolute times on shared machines mean little, so each benchmark measures a
baseline in the same run and reports the ratio beside its figure.
"""
