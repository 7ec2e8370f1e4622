"""Start-up of the `aleph-embed` command: `--version` and `--help`, against the bare interpreter in the same run.

Each command runs `--runs` times (default 5) in turn with the baseline `python -c pass`; prints the best wall time
and the best CPU time (user + system, which other load inflates far less than wall time) of each, and the load
average (targets on a quiet machine: both commands < 0.3 s).

    python -m bench.bench_cli [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "aleph-embed --version": [sys.executable, "-m", "aleph_embed.cli", "--version"],
    "aleph-embed --help": [sys.executable, "-m", "aleph_embed.cli", "--help"],
}


def measure(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    best = {name: (float("inf"), float("inf")) for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            wall, cpu = measure(command)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    for name, (wall, cpu) in best.items():
        print(f"{name:28} wall {wall:.3f} s, CPU {cpu:.3f} s (best of {args.runs})")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
