"""Command-line arguments the ingest benchmarks share."""

from __future__ import annotations

import argparse


def ingest_arguments(description: str) -> argparse.Namespace:
    """`--documents`, `--concurrency` (calls in flight, for every run) and `--delay` (the stand-in's latency)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight, for all runs")
    parser.add_argument("--delay", type=float, default=0.05, help="the stand-in API's latency per call (s)")
    return parser.parse_args()
