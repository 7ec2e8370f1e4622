"""Start-up of the `aleph-embed` command: `--version` and `--help` against the bare interpreter, and a second
`search` in a row (the embedded store, the warm shared local server, no host given) against importing what a search
must import (`qdrant_client`), all in the same run.

Each command runs `--runs` times (default 5) in turn with its baseline; prints the best wall time and the best CPU
time (user + system, which other load inflates far less than wall time) of each, and the load average (targets on a
quiet machine: `--version` and `--help` < 0.3 s, the second search < 1.5 s). The search runs against a few files of
`tests/data/docs` ingested first into an embedded store under a temporary home (its own shared server, stopped at
the end).

    python -m bench.bench_cli [--runs 5] [--files 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aleph_embed.server.shared import stop_shared_server
from tests.support.corpora import doc_files

CLI = [sys.executable, "-m", "aleph_embed.cli"]
START_UP = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "aleph-embed --version": [*CLI, "--version"],
    "aleph-embed --help": [*CLI, "--help"],
}
SEARCH = {
    "python -c 'import qdrant_client' (baseline)": [sys.executable, "-c", "import qdrant_client"],
    "aleph-embed search (again)": [*CLI, "search", "--collection", "docs", "how do I configure retries?"],
}


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(commands: dict[str, list[str]], runs: int, env: dict[str, str] | None = None) -> None:
    """Run the commands in turn `runs` times; print each one's best wall and CPU time."""
    best = {name: (float("inf"), float("inf")) for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            wall, cpu = measure(command, env)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    for name, (wall, cpu) in best.items():
        print(f"{name:44} wall {wall:.3f} s, CPU {cpu:.3f} s (best of {runs})", flush=True)


def second_search(runs: int, files: int) -> None:
    """Ingest a few files with the CLI's defaults under a temporary home, search once, then time the searches."""
    with tempfile.TemporaryDirectory() as home:
        folder = Path(home) / "docs"
        folder.mkdir()
        for path in doc_files()[:files]:
            shutil.copy(path, folder / path.name)
        env = {**os.environ, "XDG_DATA_HOME": f"{home}/data", "XDG_CACHE_HOME": f"{home}/cache"}
        for name in ("AA_HOST", "AA_TOKEN", "AA_MODEL", "XDG_RUNTIME_DIR"):
            env.pop(name, None)
        try:
            started = time.perf_counter()
            subprocess.run([*CLI, "ingest", str(folder), "--collection", "docs"], check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(f"ingest of {files} files (starts the shared server, exports the model): "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            wall, cpu = measure(SEARCH["aleph-embed search (again)"], env)
            print(f"{'aleph-embed search (first after the ingest)':44} wall {wall:.3f} s, CPU {cpu:.3f} s", flush=True)
            best_of(SEARCH, runs, env)
        finally:
            stop_shared_server(Path(home) / "cache" / "aleph-embed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=4, help="files of tests/data/docs to ingest for the search")
    args = parser.parse_args()
    best_of(START_UP, args.runs)
    second_search(args.runs, args.files)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
