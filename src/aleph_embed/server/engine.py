"""One served model: validates requests, runs padded batches with all hidden states, pools per request."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from pydantic import ConfigDict
from transformers import AutoModel, AutoTokenizer

from .. import _config
from ..errors import ConfigurationError
from ..models import EmbedRequest, EmbedResponse, ModelInfo, Pooling
from .attention import KeyControls, goes_through_controlled_attention, key_controls, register
from .prompts import EncodedPrompt, PromptEncoder, PromptError

if TYPE_CHECKING:
    from .onnx_backend import OnnxModel

logger = logging.getLogger("aleph_embed.server")
MODEL_VERSION = "local"
_UNBOUNDED_CONTEXT = 1_000_000
_FLOAT32 = torch.finfo(torch.float32)
_PROBED_CONTEXT = 4096  # longer contexts are taken from the config without running them
_ONNX_MIN_COSINE = {"fp32": 0.99999, "int8": 0.9}  # token states of the export against torch's, checked at load


class ModelLoadError(ConfigurationError):
    """A `--model NAME=PATH` cannot be served; the message says which and why."""


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


class ModelEntry(ModelInfo):
    """The server's `/models_available` entry: the client's `ModelInfo`, refusing any field it lacks."""

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
    """

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
    ) -> None:
        self.name = name
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise ModelLoadError(f"--model {name}={path}: not a Hugging Face model directory (it has no config.json)")
        self.device = device
        self.bf16 = precision == "bf16"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.model = AutoModel.from_pretrained(self.path, attn_implementation=register()).to(device).eval()
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(f"--model {name}={path}: cannot load it with transformers: {error}") from error
        self.word_embeddings: torch.nn.Module = self.model.get_input_embeddings()
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        vocab_size = min(self.word_embeddings.num_embeddings, len(self.tokenizer))
        self.encoder = PromptEncoder(self.tokenizer, name, vocab_size, self._max_context())
        probe = self.encoder.special.prefix + [self.pad_id] + self.encoder.special.suffix
        self.num_layers = len(self._forward([probe], None)) - 1
        self.supports_controls = goes_through_controlled_attention(lambda: self._forward([probe], None))
        self.passes: Counter[str] = Counter()  # forward passes per backend
        self.onnx: OnnxModel | None = None
        if backend != "torch" and not self.bf16:
            self.onnx = self._load_onnx(backend == "onnx", precision, cache_dir, threads)

    @property
    def backend(self) -> str:
        """Where requests without controls run, e.g. "onnx int8" or "torch fp32"."""
        if self.onnx is not None:
            return f"onnx {self.onnx.precision}"
        return f"torch {'bf16' if self.bf16 else 'fp32'}"

    def _load_onnx(
        self, required: bool, precision: str, cache_dir: Path | None, threads: int | None
    ) -> OnnxModel | None:
        """The exported model, checked against torch; None (torch serves everything) when that fails and the
        backend is "auto"."""
        try:
            if self.device.type != "cpu":
                raise ModelLoadError(f"ONNX Runtime runs on the CPU here, the model is on {self.device}")
            from .onnx_backend import OnnxModel, exported_model

            file = exported_model(
                self.model, self.path, self.num_layers, self.pad_id, precision, cache_dir or _config.cache_dir()
            )
            onnx = OnnxModel(file, precision, threads)
            self._check_onnx(onnx)
            return onnx
        except Exception as error:  # noqa: BLE001 - any failure of export or runtime means: serve with torch
            if required:
                raise ModelLoadError(f"--model {self.name}={self.path}: --backend onnx: {error}") from error
            logger.warning("%s runs on torch only: no ONNX Runtime backend (%s: %s)", self.name,
                           type(error).__name__, error)
            return None

    def _check_onnx(self, onnx: OnnxModel) -> None:
        """Run two prompts of different lengths (one padded) through both backends and compare every layer."""
        special = self.encoder.special
        rows = [special.prefix + list(range(1000, 1000 + size)) + special.suffix for size in (3, 9)]
        rows = [[token % self.encoder.vocab_size for token in row][: self.max_context] for row in rows]
        layers = range(self.num_layers + 1)
        expected = self._forward(rows, None)
        actual = onnx.hidden_states(*self._padded(rows), layers)
        for layer in layers:
            for row, ids in enumerate(rows):
                cosine = F.cosine_similarity(expected[layer][row, : len(ids)], actual[layer][row, : len(ids)], dim=-1)
                if cosine.min() < _ONNX_MIN_COSINE[onnx.precision]:
                    raise ValueError(f"the export's layer {layer} differs from torch's (cosine {cosine.min():.6f})")

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
                self._forward([[self.pad_id] * candidate], None)
                return candidate
            except (IndexError, RuntimeError):
                continue
        raise ModelLoadError(f"--model {self.name}={self.path}: a prompt of {context} tokens does not run")

    @functools.cached_property
    def tokenizer_json(self) -> str | None:
        """The tokenizer as a Hugging Face `tokenizer.json` that counts as `/embed` does (special tokens around the
        text, no truncation, no padding); None for a slow (Python-only) tokenizer."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None) if self.tokenizer.is_fast else None
        if backend is None:
            return None
        counting = type(backend).from_str(backend.to_str())
        counting.no_truncation()
        counting.no_padding()
        return str(counting.to_str())

    def tokenize(self, text: str) -> tuple[list[int], list[str]]:
        """The ids and token strings of `text`, without the special tokens `/embed` puts around a prompt."""
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids, list(self.tokenizer.convert_ids_to_tokens(ids))

    def detokenize(self, ids: list[int]) -> str:
        """The text of token ids (raises PromptError for ids outside the vocabulary)."""
        outside = [token for token in ids if not 0 <= token < self.encoder.vocab_size]
        if outside:
            raise PromptError(
                f"token id {outside[0]} is outside the vocabulary of {self.name!r} (ids 0..{self.encoder.vocab_size - 1})"
            )
        return str(self.tokenizer.decode(ids))

    @property
    def max_context(self) -> int:
        return self.encoder.max_context

    def info(self) -> ModelEntry:
        """This model's entry in `GET /models_available`."""
        config = self.model.config
        return ModelEntry(
            name=self.name,
            description=f"{config.model_type} with {self.num_layers} layers of {config.hidden_size} dimensions, "
            f"served locally from {self.path}",
            max_context_size=self.max_context,
            hostings=[],
            image_support=False,
            qa_support=False,
            summarization_support=False,
            embedding_types=[],
            maximum_completion_tokens=0,
            aligned=False,
        )

    def prepare(self, request: EmbedRequest) -> Job:
        """Check the request against this model and tokenize it (raises PromptError)."""
        layers = tuple(dict.fromkeys(self._absolute_layer(layer) for layer in request.layers))
        prompt = self.encoder.encode(request.prompt)
        if prompt.has_controls and not self.supports_controls:
            raise PromptError(
                f"{self.name!r} ({self.model.config.model_type}) has its own attention code, which cannot take "
                "attention controls; send the prompt without controls"
            )
        return Job(request, prompt, layers)

    def _absolute_layer(self, layer: int) -> int:
        absolute = layer if layer >= 0 else self.num_layers + 1 + layer
        if not 0 <= absolute <= self.num_layers:
            raise PromptError(
                f"layer {layer} does not exist: {self.name!r} has layers 0..{self.num_layers} "
                f"(or -{self.num_layers + 1}..-1 from the end)"
            )
        return absolute

    @torch.inference_mode()
    def run(self, jobs: list[Job]) -> list[EmbedAnswer | PromptError]:
        """One padded forward pass per backend (jobs with controls on torch); one answer per job, or the error that
        belongs to that job alone."""
        results: dict[int, EmbedAnswer | PromptError] = {}
        on_onnx = [self.onnx is not None and not job.prompt.has_controls for job in jobs]
        for onnx in (True, False):
            indices = [index for index, flag in enumerate(on_onnx) if flag is onnx]
            if not indices:
                continue
            batch = [jobs[index] for index in indices]
            rows = [job.prompt.ids for job in batch]
            if onnx:
                assert self.onnx is not None
                layers = {layer for job in batch for layer in job.layers}
                states: Mapping[int, torch.Tensor] | Sequence[torch.Tensor] = self.onnx.hidden_states(
                    *self._padded(rows), layers
                )
            else:
                states = self._forward(rows, self._controls(batch))
            self.passes["onnx" if onnx else "torch"] += 1
            for row, index in enumerate(indices):
                try:
                    results[index] = self._response(jobs[index], row, states)
                except PromptError as error:
                    results[index] = error
        return [results[index] for index in range(len(jobs))]

    def _padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """`input_ids` padded on the right with the pad token, and the attention mask."""
        length = max(map(len, rows))
        input_ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
        for row, ids in enumerate(rows):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        return input_ids, attention_mask

    @torch.inference_mode()
    def _forward(self, rows: list[list[int]], controls: KeyControls | None) -> tuple[torch.Tensor, ...]:
        input_ids, attention_mask = self._padded(rows)
        with key_controls(controls), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            output = self.model(
                input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device),
                output_hidden_states=True, use_cache=False,
            )
        return output.hidden_states

    def _controls(self, jobs: list[Job]) -> KeyControls | None:
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
        self, job: Job, row: int, hidden_states: Mapping[int, torch.Tensor] | Sequence[torch.Tensor]
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
    """The vectors; raises PromptError when one is not finite (JSON has no NaN, and a zero vector would be a lie)."""
    if not bool(torch.isfinite(vectors).all()):
        raise PromptError(
            "the embedding is not finite (attention controls of extreme factors overflow); use factors nearer 1"
        )
    return vectors
