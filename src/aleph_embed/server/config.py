"""Settings of the local server: one dataclass, from which its command-line options and their rendering come.

Each `ServerConfig` field is the option `--field-name` (`models` is `--model NAME=PATH`, repeatable); `Option` in the
field's metadata says how to parse and describe it. No heavy imports here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .._config import ENV_SERVE_TOKEN, resolve_serve_token
from ..errors import ConfigurationError

LOOPBACK = "127.0.0.1"
BACKENDS = ("auto", "torch", "onnx")
PRECISIONS = ("fp32", "bf16", "int8")
TASKS = ("embed", "rerank")
MAX_AUTO_PASSES = 4  # passes side by side by default: more hold more activations at once for little gain
EmbeddingType = Literal["raw", "semantic", "instructable", "none"]
EMBEDDING_TYPES: tuple[EmbeddingType, ...] = ("raw", "semantic", "instructable", "none")


def serves_on_onnx(backend: str, precision: str) -> bool:
    """Whether requests without controls run on ONNX Runtime (else everything runs on torch)."""
    return backend != "torch" and precision != "bf16"


@dataclass(frozen=True)
class Option:
    """How a `ServerConfig` field appears on the command line."""

    help: str
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    flag: str | None = None  # default: --field-name
    metavar: str | None = None
    deprecated: tuple[str, ...] = ()  # old spellings, still accepted with a warning on stderr
    secret: bool = False  # never rendered on a command line (`to_args`): LocalServer passes it in the environment
    limit: bool = False  # a bound against abuse: listed in SECURITY.md (`limits.limits_table`)


def _option(default: Any, help: str, **how: Any) -> Any:  # noqa: ANN401 - the field's own type
    return field(default=default, metadata={"option": Option(help, **how)})


DEFAULT_INSTRUCTION_TEMPLATE = "{instruction}\n{input}"


@dataclass(frozen=True)
class ModelSpec:
    """What `--model NAME=PATH[;KEY=VALUE...]` says about a served model beyond its directory.

    `query_prefix` / `document_prefix`: put in front of `/semantic_embed` queries / documents (e.g. E5's `query: ` /
    `passage: `). `instruction_template`: how `/instructable_embed` joins instruction and input (`{instruction}` and
    `{input}`). `projection`: a torch file holding a [hidden, 128] matrix, which answers `compress_to_size: 128`.
    `matryoshka`: `true` when the model's vectors may be shortened (`/embeddings` `dimensions`). `task`: `embed` (the
    embedding endpoints) or `rerank` (a cross-encoder on `/rerank`). `embedding_type`: what `GET /model-settings` says
    the model is for (`raw`: `/embed`, `semantic`, `instructable`, `none`: `/embeddings` only); clients choose their
    endpoint by it, the server still answers every embedding endpoint. A rerank model's type is `none`.
    """

    path: str
    query_prefix: str = ""
    document_prefix: str = ""
    instruction_template: str = DEFAULT_INSTRUCTION_TEMPLATE
    projection: str | None = None
    matryoshka: bool = False
    task: str = "embed"
    embedding_type: EmbeddingType = "raw"

    @classmethod
    def parse(cls, value: str) -> ModelSpec:
        """The spec of `PATH[;KEY=VALUE...]` (values are taken as written, spaces included; `\\n` is a newline)."""
        path, *options = value.split(";")
        known = {spec.name for spec in fields(cls)} - {"path"}
        given: dict[str, Any] = {}
        for option in options:
            key, sep, raw = option.partition("=")
            if not sep or key not in known:
                raise ValueError(f"{option!r}: options are KEY=VALUE with KEY one of {', '.join(sorted(known))}")
            given[key] = raw.replace("\\n", "\n")
        if "matryoshka" in given:
            if given["matryoshka"] not in ("true", "false"):
                raise ValueError("matryoshka: true or false")
            given["matryoshka"] = given["matryoshka"] == "true"
        if given.get("task", "embed") not in TASKS:
            raise ValueError(f"task: one of {', '.join(TASKS)}")
        if given.get("embedding_type", "raw") not in EMBEDDING_TYPES:
            raise ValueError(f"embedding_type: one of {', '.join(EMBEDDING_TYPES)}")
        if given.get("task") == "rerank":
            if "embedding_type" in given:
                raise ValueError("embedding_type: a rerank model embeds nothing (its type is none)")
            given["embedding_type"] = "none"
        template = given.get("instruction_template", DEFAULT_INSTRUCTION_TEMPLATE)
        if template.count("{input}") != 1 or "{instruction}" not in template:
            raise ValueError("instruction_template: put {instruction} and one {input} in it")
        return cls(path=path, **given)


def _limit(default: float, help: str, kind: type[int] | type[float] = int) -> Any:  # noqa: ANN401 - int or float
    """A positive bound against abuse: listed in SECURITY.md with its flag (`limits.limits_table`)."""
    return _option(default, f"{help} (default: %(default)s)", parse=_positive(kind), limit=True)


def model_spec(value: str) -> tuple[str, str]:
    """Parse `NAME=PATH[;KEY=VALUE...]` of `--model` (see `ModelSpec`)."""
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--model takes NAME=PATH (a Hugging Face model directory), got {value!r}")
    try:
        ModelSpec.parse(path)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--model {name}: {error}") from None
    return name, path


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(value: str) -> int | float:
        number = kind(value)
        if number < 0 or (kind is int and number == 0):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
        return number

    parse.__name__ = kind.__name__  # argparse names the type in its error: "invalid int value: 'x'"
    return parse


@dataclass(frozen=True)
class ServerConfig:
    """Everything `serve` needs. `models` maps served names to model directories (empty: the default model)."""

    bind: str = _option(LOOPBACK, "interface to listen on (default: %(default)s)", deprecated=("--host",))
    port: int = _option(8000, "port (default: %(default)s)", parse=int)
    fd: int | None = _option(
        None, "serve on this inherited listening socket (a file descriptor) instead of binding --bind and --port: "
        "how LocalServer and the CLI's shared server start it, so that no other process can take the port first",
        parse=int, metavar="FD",
    )
    models: dict[str, str] = field(default_factory=dict, metadata={"option": Option(
        "serve the Hugging Face model directory PATH as NAME (repeatable; the first is the default model; "
        "default: all-MiniLM-L6-v2 as 'all-minilm-l6-v2'); ';KEY=VALUE' options after PATH: query_prefix, "
        "document_prefix (semantic), instruction_template (instructable), projection (a [hidden, 128] torch file for "
        "compress_to_size 128), matryoshka=true (/embeddings dimensions), embedding_type=raw|semantic|instructable|none "
        "(what /model-settings says; default raw), task=rerank (a cross-encoder on /rerank)", parse=model_spec, flag="--model",
        metavar="NAME=PATH[;KEY=VALUE...]",
    )})
    token: str | None = _option(
        None, "require 'Authorization: Bearer TOKEN' on every endpoint but /health and the API docs; visible to "
        f"other users in ps: prefer {ENV_SERVE_TOKEN} or --token-file (default: {ENV_SERVE_TOKEN} if set, else no "
        "token)", secret=True,
    )
    token_file: str | None = _option(None, "read the token from the first line of this file", metavar="PATH")
    max_queue: int = _limit(1024, "requests queued or running before answering 503 QUEUE_FULL")
    max_batch_size: int = _limit(32, "prompts per forward pass")
    max_batch_tokens: int = _limit(8192, "padded tokens per forward pass")
    batch_wait_ms: float = _option(
        1.0, "how long to gather concurrent requests into one batch (default: %(default)s)", parse=_positive(float)
    )
    max_body_bytes: int = _limit(16 * 1024 * 1024, "larger request bodies get 413")
    max_inflight_body_bytes: int = _limit(
        64 * 1024 * 1024, "request body bytes held at once, all requests together; more get 503 SERVER_BUSY"
    )
    max_connections: int = _limit(512, "open connections; more are answered 503 TOO_MANY_CONNECTIONS and closed")
    header_timeout: float = _limit(
        10.0, "seconds a connection may take to send a request's headers, then it is closed", float
    )
    body_timeout: float = _limit(30.0, "seconds a request may take to send its whole body, then 408", float)
    keep_alive_timeout: int = _limit(5, "seconds an idle kept-alive connection stays open")
    max_header_bytes: int = _limit(16 * 1024, "request line and headers larger than this get 400")
    max_prompt_items: int = _limit(1000, "items in a prompt; more get 400")
    max_controls: int = _limit(1000, "attention controls per prompt item; more get 400")
    max_layers: int = _limit(100, "entries of 'layers' in a request; more get 400")
    max_tokenizer_length: int = _limit(
        100_000, "characters of a /tokenize prompt, token ids of a /detokenize call; more get 400 before any work"
    )
    prepare_threads: int = _limit(2, "threads that parse and tokenize requests, off the event loop")
    threads: int | None = _option(
        None, "CPU threads of torch and ONNX Runtime (default: all cores)", parse=_positive(int)
    )
    parallel_passes: int | None = _option(
        None, "forward passes run at once on ONNX Runtime, each on threads / parallel_passes threads (torch runs one "
        f"pass at a time on all threads) (default: one per thread, at most {MAX_AUTO_PASSES}; 1 with --backend "
        "torch or --precision bf16)", parse=_positive(int),
    )
    backend: str = _option(
        "auto", "auto: requests without attention controls run on ONNX Runtime (the model exported once and cached), "
        "the others on torch; torch: everything on torch; onnx: like auto, but a model ONNX Runtime cannot run is an "
        "error (default: %(default)s)", choices=BACKENDS,
    )
    precision: str = _option(
        "fp32", "fp32: exact; int8: ONNX Runtime's dynamic quantization (controls still run fp32 on torch); "
        "bf16: torch autocast, everything on torch (default: %(default)s)", choices=PRECISIONS,
    )
    cache_dir: str | None = _option(
        None, "aleph-embed's cache directory; ONNX exports go to its onnx/ (default: $XDG_CACHE_HOME/aleph-embed)"
    )
    device: str = _option("auto", "auto, cpu, cuda, cuda:1, ... (default: %(default)s)")
    log_level: str = _option(
        "warning", "(default: %(default)s)", choices=("critical", "error", "warning", "info", "debug")
    )
    idle_timeout: float | None = _option(
        None, "stop after this many seconds without a request (default: never)", parse=_positive(float)
    )

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ConfigurationError("the server token is empty; give a token or none at all")

    @property
    def passes(self) -> tuple[int, int]:
        """(forward passes at once, ONNX Runtime threads of each): a small CPU runs more texts per second with passes
        side by side on one thread each than with one pass at a time on all its threads (ONNX Runtime's int8 2-core
        throughput 1.3x, fp32 1.1x: bench_backends). Torch takes one pass at a time anyway (`TORCH_PASS`): a server
        that serves on torch gathers whole batches for one worker."""
        threads = self.threads or os.cpu_count() or 1
        on_onnx = serves_on_onnx(self.backend, self.precision)
        passes = self.parallel_passes or (min(threads, MAX_AUTO_PASSES) if on_onnx else 1)
        return passes, max(1, threads // passes)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServerConfig:
        """The config of parsed `add_server_arguments` options; the token from --token, --token-file or
        `AA_SERVE_TOKEN` (raises ConfigurationError for an empty one)."""
        values = {spec.name: getattr(args, spec.name) for spec in fields(cls)}
        token = resolve_serve_token(values["token"], values["token_file"])
        return cls(**{**values, "models": dict(values["models"] or []), "token": token})

    def to_args(self) -> list[str]:
        """The command-line options that give this config (only those that differ from the defaults; never the
        token: pass it as `AA_SERVE_TOKEN` in the environment; no --bind or --port with --fd: the socket says)."""
        defaults = ServerConfig()
        args: list[str] = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value == getattr(defaults, spec.name) or spec.metadata["option"].secret:
                continue
            if self.fd is not None and spec.name in ("bind", "port"):
                continue
            flag = _flag(spec.name, spec.metadata["option"])
            if isinstance(value, dict):
                args += [part for name, path in value.items() for part in (flag, f"{name}={path}")]
            else:
                args += [flag, str(value)]
        return args


def _flag(name: str, option: Option) -> str:
    return option.flag or "--" + name.replace("_", "-")


def _deprecated(new_flag: str) -> type[argparse.Action]:
    """The action of an old option name: a warning on stderr, then stored like `new_flag`."""

    class Deprecated(argparse.Action):
        def __call__(
            self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
        ) -> None:
            print(f"{parser.prog}: {option} is deprecated, use {new_flag} (it will be removed)", file=sys.stderr)
            setattr(namespace, self.dest, values)

    return Deprecated


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `aleph-embed serve` / `python -m aleph_embed.server`, one per `ServerConfig` field."""
    defaults = ServerConfig()
    for spec in fields(ServerConfig):
        option: Option = spec.metadata["option"]
        flag = _flag(spec.name, option)
        repeated = isinstance(getattr(defaults, spec.name), dict)
        parser.add_argument(
            flag, dest=spec.name, type=option.parse, choices=option.choices, metavar=option.metavar,
            help=option.help, action="append" if repeated else "store",
            default=None if repeated else getattr(defaults, spec.name),
        )
        for old in option.deprecated:
            parser.add_argument(
                old, dest=spec.name, type=option.parse, action=_deprecated(flag), help=argparse.SUPPRESS
            )
