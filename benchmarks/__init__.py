"""tcpkit benchmarks: ``python3 tasks.py bench`` (or ``python -m benchmarks``)."""
