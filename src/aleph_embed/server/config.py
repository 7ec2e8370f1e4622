"""Settings of the local server, parsed from the command line (no heavy imports)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServerConfig:
    """Everything `serve` needs. `models` maps served names to model directories (empty: the default model)."""

    host: str = "127.0.0.1"
    port: int = 8000
    models: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    max_queue: int = 1024
    max_batch_size: int = 32
    max_batch_tokens: int = 8192
    batch_wait_ms: float = 1.0
    max_body_bytes: int = 16 * 1024 * 1024
    threads: int | None = None
    device: str = "auto"
    log_level: str = "warning"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServerConfig:
        return cls(
            host=args.host, port=args.port, models=dict(args.model or []), token=args.token,
            max_queue=args.max_queue, max_batch_size=args.max_batch_size, max_batch_tokens=args.max_batch_tokens,
            batch_wait_ms=args.batch_wait_ms, max_body_bytes=args.max_body_bytes, threads=args.threads,
            device=args.device, log_level=args.log_level,
        )


def model_spec(value: str) -> tuple[str, str]:
    """Parse `NAME=PATH` of `--model`."""
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--model takes NAME=PATH (a Hugging Face model directory), got {value!r}")
    return name, path


def _positive(kind: type[int] | type[float]):  # noqa: ANN202 - argparse type factory
    def parse(value: str) -> int | float:
        number = kind(value)
        if number < 0 or (kind is int and number == 0):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
        return number

    return parse


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `aleph-embed serve` / `python -m aleph_embed.server`."""
    defaults = ServerConfig()
    parser.add_argument("--host", default=defaults.host, help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=defaults.port, help="port (default: 8000)")
    parser.add_argument(
        "--model", action="append", type=model_spec, metavar="NAME=PATH",
        help="serve the Hugging Face model directory PATH as NAME (repeatable; the first is the default model; "
        "default: all-MiniLM-L6-v2 as 'all-minilm-l6-v2')",
    )
    parser.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on /embed and /models_available")
    parser.add_argument("--max-queue", type=_positive(int), default=defaults.max_queue,
                        help="requests queued or running before answering 503 QUEUE_FULL (default: %(default)s)")
    parser.add_argument("--max-batch-size", type=_positive(int), default=defaults.max_batch_size,
                        help="prompts per forward pass (default: %(default)s)")
    parser.add_argument("--max-batch-tokens", type=_positive(int), default=defaults.max_batch_tokens,
                        help="padded tokens per forward pass (default: %(default)s)")
    parser.add_argument("--batch-wait-ms", type=_positive(float), default=defaults.batch_wait_ms,
                        help="how long to gather concurrent requests into one batch (default: %(default)s)")
    parser.add_argument("--max-body-bytes", type=_positive(int), default=defaults.max_body_bytes,
                        help="larger request bodies get 413 (default: %(default)s)")
    parser.add_argument("--threads", type=_positive(int), default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--device", default=defaults.device, help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    parser.add_argument("--log-level", default=defaults.log_level,
                        choices=["critical", "error", "warning", "info", "debug"], help="(default: %(default)s)")
