"""Benchmark harness: mailhost against Dovecot on the same machine (``make bench``).

Not a test suite: pytest never collects it (testpaths exclude bench/ and no file is named
test_*.py). See bench/README.md for the command, the workloads and the latest figures.
"""
