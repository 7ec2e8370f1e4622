"""One served embedding model: prepares requests, routes them to a backend, pools the hidden states per request."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from pydantic import ConfigDict
from transformers import AutoTokenizer

from ..config import cache_dir as default_cache_dir
from ..models import EmbedRequest, EmbedResponse, Pooling
from .attention import KeyControls
from .backend import Backend, Batch, HiddenStates, check_agreement
from .errors import ModelLoadError, ServerError
from .prompts import EncodedPrompt, PromptEncoder
from .config import EmbeddingType, serves_on_onnx
from .served import ModelEntry, ModelSettings, ServedTokenizer
from .torch_backend import TorchBackend

if TYPE_CHECKING:
    from .onnx_backend import OnnxBackend

logger = logging.getLogger("aleph_embed.server")
MODEL_VERSION = "local"
_UNBOUNDED_CONTEXT = 1_000_000
_FLOAT32 = torch.finfo(torch.float32)
_PROBED_CONTEXT = 4096  # longer contexts are taken from the config without running them
_ONNX_MIN_COSINE = {"fp32": 0.99999, "int8": 0.9}  # token states of the export against torch's, checked at load


@dataclass(frozen=True)
class Job:
    """A validated request, ready for a forward pass."""

    request: EmbedRequest
    prompt: EncodedPrompt
    layers: tuple[int, ...]  # absolute hidden-state indices, in request order without repeats

    @property
    def num_tokens(self) -> int:
        return len(self.prompt.ids)


def _weighted_mean(hidden: torch.Tensor) -> torch.Tensor:
    weights = torch.arange(1, hidden.size(0) + 1, dtype=hidden.dtype, device=hidden.device)
    return (weights / weights.sum()) @ hidden


POOLINGS: dict[Pooling, Callable[[torch.Tensor], torch.Tensor]] = {
    "mean": lambda hidden: hidden.mean(0),
    "weighted_mean": _weighted_mean,
    "max": lambda hidden: hidden.amax(0),
    "last_token": lambda hidden: hidden[-1],
    "abs_max": lambda hidden: hidden.abs().amax(0),
}
"""Each pooling of `aleph_embed.models.Pooling`: the `[tokens, dim]` states of one prompt to one vector."""


class EmbedAnswer(EmbedResponse):
    """The server's `/embed` answer: the client's `EmbedResponse`, refusing any field the client's model lacks."""

    model_config = ConfigDict(extra="forbid")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class ModelEngine:
    """A Hugging Face encoder or decoder served under `name`.

    `backend` "auto" runs requests without attention controls on ONNX Runtime (the model exported once into
    `cache_dir`) and the others on torch; "onnx" refuses to load a model that ONNX Runtime cannot run, "torch" never
    exports. `precision` "int8" applies to ONNX Runtime, "bf16" to torch (autocast); controls always run on torch.
    `threads`: ONNX Runtime's threads for each pass (the server runs passes side by side: `ServerConfig.passes`).
    `embedding_type` is what `/model-settings` says the model is for.
    """

    task = "embed"

    def __init__(
        self,
        name: str,
        path: str | Path,
        device: torch.device,
        *,
        backend: str = "torch",
        precision: str = "fp32",
        cache_dir: Path | None = None,
        threads: int | None = None,
        embedding_type: EmbeddingType = "raw",
    ) -> None:
        self.name = name
        self.path = Path(path)
        self.embedding_type = embedding_type
        if not (self.path / "config.json").is_file():
            raise ModelLoadError(f"--model {name}={path}: not a Hugging Face model directory (it has no config.json)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.torch = TorchBackend.load(self.path, device, precision == "bf16")
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(f"--model {name}={path}: cannot load it with transformers: {error}") from error
        self.model = self.torch.model
        self.device = device
        self.word_embeddings: torch.nn.Module = self.model.get_input_embeddings()
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        vocab_size = min(self.word_embeddings.num_embeddings, len(self.tokenizer))
        self.tokens = ServedTokenizer(self.tokenizer, name, vocab_size)
        self.encoder = PromptEncoder(self.tokenizer, name, vocab_size, self._max_context())
        probe = [self.encoder.special.prefix + [self.pad_id] + self.encoder.special.suffix]
        self.num_layers = len(self.torch.hidden_states(self._batch(probe, [0]))) - 1
        self.torch.check_controls(self._batch(probe, [0]))
        self.passes: Counter[str] = Counter()  # forward passes per backend
        self._counting = threading.Lock()  # passes run on several workers
        self.onnx: OnnxBackend | None = None
        if serves_on_onnx(backend, precision):
            self.onnx = self._load_onnx(backend == "onnx", precision, cache_dir, threads)
        self.backends: list[Backend] = [self.onnx, self.torch] if self.onnx is not None else [self.torch]

    @property
    def backend(self) -> str:
        """Where requests without controls run, e.g. "onnx int8" or "torch fp32"."""
        return self.backends[0].name

    def _load_onnx(
        self, required: bool, precision: str, cache_dir: Path | None, threads: int | None
    ) -> OnnxBackend | None:
        """The exported model (an `OnnxBackend`), checked against torch; None (torch serves everything) when that
        fails and the backend is "auto"."""
        try:
            if self.device.type != "cpu":
                raise ModelLoadError(f"ONNX Runtime runs on the CPU here, the model is on {self.device}")
            from .onnx_backend import OnnxBackend, exported_model

            file = exported_model(
                self.model, self.path, self.num_layers, self.pad_id, precision, cache_dir or default_cache_dir()
            )
            onnx = OnnxBackend(file, precision, threads)
            special = self.encoder.special
            rows = [special.prefix + list(range(1000, 1000 + size)) + special.suffix for size in (3, 9)]
            rows = [[token % self.encoder.vocab_size for token in row][: self.max_context] for row in rows]
            check_agreement(self.torch, onnx, self._batch(rows, range(self.num_layers + 1)),
                            _ONNX_MIN_COSINE[precision])
            return onnx
        except Exception as error:  # noqa: BLE001 - any failure of export or runtime means: serve with torch
            if required:
                raise ModelLoadError(f"--model {self.name}={self.path}: --backend onnx: {error}") from error
            logger.warning("%s runs on torch only: no ONNX Runtime backend (%s: %s)", self.name,
                           type(error).__name__, error)
            return None

    def _batch(self, rows: Sequence[Sequence[int]], layers: Sequence[int] | range,
               controls: KeyControls | None = None) -> Batch:
        return Batch.of(rows, self.pad_id, frozenset(layers), controls)

    def _max_context(self) -> int:
        """The longest prompt the model takes: the smaller of the config's and the tokenizer's limits, checked by
        running it (models like RoBERTa lose `pad_token_id + 1` positions to their position offset)."""
        sizes = [
            getattr(self.model.config, "max_position_embeddings", None),
            getattr(self.tokenizer, "model_max_length", None),
        ]
        known = [size for size in sizes if isinstance(size, int) and 0 < size < _UNBOUNDED_CONTEXT]
        context = min(known, default=_UNBOUNDED_CONTEXT)
        if context > _PROBED_CONTEXT:
            return context
        offset = (getattr(self.model.config, "pad_token_id", None) or 0) + 1
        for candidate in (context, context - offset):
            try:
                self.torch.hidden_states(self._batch([[self.pad_id] * candidate], [0]))
                return candidate
            except (IndexError, RuntimeError):
                continue
        raise ModelLoadError(f"--model {self.name}={self.path}: a prompt of {context} tokens does not run")

    @property
    def max_context(self) -> int:
        return self.encoder.max_context

    @property
    def pass_cost_tokens(self) -> int:
        """The cost of a pass where requests without controls run."""
        return self.backends[0].pass_cost_tokens

    def info(self) -> ModelEntry:
        """This model's entry in `GET /models_available`."""
        config = self.model.config
        return ModelEntry.of(self.name, f"{config.model_type} with {self.num_layers} layers of {config.hidden_size} "
                             f"dimensions, served locally from {self.path}", self.max_context)

    def settings(self) -> ModelSettings:
        """This model's entry in `GET /model-settings`."""
        return ModelSettings(name=self.name, status="available", max_context_size=self.max_context,
                             embedding_type=self.embedding_type)

    def prepare(self, request: EmbedRequest) -> Job:
        """Check the request against this model and tokenize it (raises ServerError)."""
        layers = tuple(dict.fromkeys(self._absolute_layer(layer) for layer in request.layers))
        prompt = self.encoder.encode(request.prompt)
        if prompt.has_controls and not self.torch.supports_controls:
            raise ServerError(
                f"{self.name!r} ({self.model.config.model_type}) has its own attention code, which cannot take "
                "attention controls; send the prompt without controls"
            )
        return Job(request, prompt, layers)

    def _absolute_layer(self, layer: int) -> int:
        absolute = layer if layer >= 0 else self.num_layers + 1 + layer
        if not 0 <= absolute <= self.num_layers:
            raise ServerError(
                f"layer {layer} does not exist: {self.name!r} has layers 0..{self.num_layers} "
                f"(or -{self.num_layers + 1}..-1 from the end)"
            )
        return absolute

    def route(self, job: Job) -> Backend:
        """The first backend that can run `job` (one taking controls for a prompt with controls)."""
        return next(backend for backend in self.backends if backend.supports_controls or not job.prompt.has_controls)

    @torch.inference_mode()
    def run(self, jobs: Sequence[Job]) -> list[EmbedAnswer | ServerError]:
        """One padded forward pass per backend; one answer per job, or the error that belongs to that job alone."""
        results: dict[int, EmbedAnswer | ServerError] = {}
        routes = [self.route(job) for job in jobs]
        for backend in self.backends:
            indices = [index for index, route in enumerate(routes) if route is backend]
            if not indices:
                continue
            batch = [jobs[index] for index in indices]
            controls = self._controls(batch) if backend.supports_controls else None
            states = backend.hidden_states(self._batch(
                [job.prompt.ids for job in batch], [layer for job in batch for layer in job.layers], controls
            ))
            with self._counting:
                self.passes[backend.name.split()[0]] += 1
            for row, index in enumerate(indices):
                try:
                    results[index] = self._response(jobs[index], row, states)
                except ServerError as error:
                    results[index] = error
        return [results[index] for index in range(len(jobs))]

    def _controls(self, jobs: Sequence[Job]) -> KeyControls | None:
        if not any(job.prompt.has_controls for job in jobs):
            return None
        length = max(job.num_tokens for job in jobs)
        factors = torch.ones((len(jobs), length), dtype=torch.float64)  # a factor like 1e300 must keep a finite log
        multiplicative = torch.zeros(len(jobs), dtype=torch.bool)
        for row, job in enumerate(jobs):
            if job.prompt.has_controls:
                factors[row, : job.num_tokens] = self._effective_factors(job)
                multiplicative[row] = not job.request.control_log_additive
        log_bias = torch.where(multiplicative[:, None], 0.0, factors.clamp_min(_FLOAT32.tiny).log())
        scale = torch.where(multiplicative[:, None], factors.clamp_max(_FLOAT32.max), 1.0)
        return KeyControls(
            log_bias.float().to(self.device), scale.float().to(self.device) if multiplicative.any() else None
        )

    def _effective_factors(self, job: Job) -> torch.Tensor:
        """The job's factor per token; with a threshold, similar tokens take their closest controlled token's."""
        factors = torch.tensor(job.prompt.factors, dtype=torch.float64)
        threshold = job.request.contextual_control_threshold
        if threshold is None:
            return factors
        controlled = torch.tensor(job.prompt.controlled)
        embeddings = F.normalize(self.word_embeddings(torch.tensor(job.prompt.ids, device=self.device)).float(), dim=-1)
        similarity = embeddings @ embeddings[controlled.to(self.device)].T
        best, closest = similarity.cpu().max(dim=-1)
        similar = ~controlled & (best >= threshold)
        factors[similar] = factors[controlled][closest[similar]]
        return factors

    def _response(
        self, job: Job, row: int, hidden_states: HiddenStates
    ) -> EmbedAnswer:
        request = job.request
        embeddings: dict[str, dict[str, list[float]]] = {}
        for layer in job.layers:
            hidden = hidden_states[layer][row, : job.num_tokens].float()
            vectors = torch.stack([POOLINGS[pooling](hidden) for pooling in request.pooling])
            if request.normalize:
                vectors = F.normalize(vectors, dim=-1)
            embeddings[f"layer_{layer}"] = dict(zip(request.pooling, _finite(vectors).cpu().tolist()))
        return EmbedAnswer(
            model_version=MODEL_VERSION,
            embeddings=embeddings,
            tokens=cast(list[str], self.tokenizer.convert_ids_to_tokens(job.prompt.ids)) if request.tokens else None,
            num_tokens_prompt_total=job.num_tokens,
        )


def _finite(vectors: torch.Tensor) -> torch.Tensor:
    """The vectors; raises ServerError when one is not finite (JSON has no NaN, and a zero vector would be a lie)."""
    if not bool(torch.isfinite(vectors).all()):
        raise ServerError(
            "the embedding is not finite (attention controls of extreme factors overflow); use factors nearer 1"
        )
    return vectors
