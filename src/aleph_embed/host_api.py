"""The host's endpoints besides embedding: its models (`/model-settings`, `/models_available`) and tokenization
(`/tokenize`, `/detokenize`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .prompts import _STRICT


class ModelInfo(BaseModel):
    """One entry of `GET /models_available`."""

    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    max_context_size: int
    hostings: list[str] = Field(default_factory=list)
    image_support: bool = False
    qa_support: bool = False
    summarization_support: bool = False
    embedding_types: list[str] = Field(default_factory=list)
    maximum_completion_tokens: int | None = None
    aligned: bool = False


EmbeddingType = Literal["none", "raw", "semantic", "instructable"]
"""How a model embeds (`/model-settings`): `raw` through `/embed`, `semantic` through `/semantic_embed` and
`/batch_semantic_embed`, `instructable` through `/instructable_embed`; `none`: not by those (OpenAI `/embeddings`
where the model is deployed for it)."""


class ModelSettings(BaseModel):
    """One model of `GET /model-settings` (the API from 4.7 on; the fields the clients use, others kept as extras)."""

    model_config = ConfigDict(extra="allow")

    name: str
    status: str = "available"
    max_context_size: int | None = None
    embedding_type: EmbeddingType | None = None

    @classmethod
    def from_info(cls, info: ModelInfo) -> ModelSettings:
        """A `/models_available` entry, on a host that predates `/model-settings` (whose models embed through
        `/embed`: `raw`)."""
        return cls(name=info.name, max_context_size=info.max_context_size, embedding_type="raw")


class TokenizeRequest(BaseModel):
    """A `POST /tokenize` request: the prompt's tokens as strings (`tokens`) and/or as ids (`token_ids`)."""

    model_config = _STRICT

    model: str = Field(min_length=1)
    prompt: str
    tokens: bool = False
    token_ids: bool = True


class TokenizeResponse(BaseModel):
    """A `/tokenize` answer: what was asked for, None otherwise. The model's special tokens are not included
    (`/embed` puts them around the whole prompt)."""

    model_config = ConfigDict(extra="allow")

    tokens: list[str] | None = None
    token_ids: list[int] | None = None


class DetokenizeRequest(BaseModel):
    """A `POST /detokenize` request."""

    model_config = _STRICT

    model: str = Field(min_length=1)
    token_ids: list[int]


class DetokenizeResponse(BaseModel):
    """A `/detokenize` answer: the text of the token ids."""

    model_config = ConfigDict(extra="allow")

    result: str
