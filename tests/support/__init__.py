"""What the tests and the benches share: fake and stand-in APIs, corpora, real servers as child processes.

Benches import it as `tests.support` (run them from the repository root as `python -m bench.bench_x`).
"""
