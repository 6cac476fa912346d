"""Prototype-style baseline app for the benchmark (bench/run.py); not part of FakeWeb."""
