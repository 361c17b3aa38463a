"""Benchmark suite of zerogate, side by side with Huey: run ``python -m bench``.

Every measurement runs in a fresh child process (``bench.child``) with a fresh
temporary directory; the parent (``bench.cli``) repeats it, takes medians, judges the
targets of ``bench.cases``, prints a table and writes JSON lines to ``bench/results``.
"""
