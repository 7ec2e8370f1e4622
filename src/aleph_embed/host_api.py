"""The host's endpoints besides embedding: its models (`/models_available`) and tokenization
(`/tokenize`, `/detokenize`)."""

from __future__ import annotations

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
