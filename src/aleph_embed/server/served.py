"""What every served model has, whatever its task (embedding: `engine.ModelEngine`, rerank: `rerank.RerankEngine`):
a name, a context, a tokenizer the tokenizer endpoints answer from, its `/models_available` and `/model-settings`
entries, and `run(jobs)` for the batcher. A new model task is one module with a class of this shape."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from ..models import ModelInfo
from .config import EmbeddingType
from .errors import ServerError
from .prompts import PromptEncoder

_STRICT = ConfigDict(extra="forbid")


class ModelEntry(ModelInfo):
    """The server's `/models_available` entry: the client's `ModelInfo`, refusing any field it lacks."""

    model_config = _STRICT

    @classmethod
    def of(cls, name: str, description: str, max_context: int) -> ModelEntry:
        """A locally served model's entry: its context, no hostings and none of the API's generation features."""
        return cls(
            name=name, description=description, max_context_size=max_context, hostings=[], image_support=False,
            qa_support=False, summarization_support=False, embedding_types=[], maximum_completion_tokens=0,
            aligned=False,
        )


class ModelSettings(BaseModel):
    """The server's `GET /model-settings` entry of one model (the fields the PhariaAI spec names that apply here)."""

    model_config = _STRICT

    name: str
    status: Literal["available", "unavailable"]
    max_context_size: int
    embedding_type: EmbeddingType


class ServedTokenizer:
    """A served model's tokenizer as `/tokenize`, `/detokenize` and `/models/{model}/tokenizer` use it."""

    def __init__(self, tokenizer: Any, name: str, vocab_size: int) -> None:  # noqa: ANN401 - a transformers tokenizer
        self.tokenizer, self.name, self.vocab_size = tokenizer, name, vocab_size

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
        """The text of token ids (raises ServerError for ids outside the vocabulary)."""
        outside = [token for token in ids if not 0 <= token < self.vocab_size]
        if outside:
            raise ServerError(
                f"token id {outside[0]} is outside the vocabulary of {self.name!r} (ids 0..{self.vocab_size - 1})"
            )
        return str(self.tokenizer.decode(ids))


class ServedModel(Protocol):
    """A model the server answers for (see the module's docstring)."""

    name: str
    task: str  # "embed" or "rerank": which endpoints answer for it
    tokens: ServedTokenizer
    encoder: PromptEncoder

    @property
    def max_context(self) -> int: ...

    @property
    def pass_cost_tokens(self) -> int:
        """What one more forward pass costs, in padded tokens (the batcher's `pass_cost`)."""
        ...

    def info(self) -> ModelEntry: ...

    def settings(self) -> ModelSettings: ...

    def run(self, jobs: Sequence[Any]) -> Sequence[Any]:
        """One result per job (a ServerError instance: that job's own error)."""
        ...
