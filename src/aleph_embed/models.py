"""The embedding contract: each endpoint's request and answer as the real API speaks it. Prompt items live in
`aleph_embed.prompts`, the host's other endpoints in `aleph_embed.host_api`; all are importable from here."""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .host_api import (
    DetokenizeRequest,
    DetokenizeResponse,
    EmbeddingType,
    ModelInfo,
    ModelSettings,
    TokenizeRequest,
    TokenizeResponse,
)
from .prompts import (
    _BODY_DUMP,
    _STRICT,
    POOLINGS,
    CheckedPrompt,
    Hosting,
    Image,
    ImageControl,
    ModelT,
    Pooling,
    Prompt,
    PromptItem,
    Text,
    TextControl,
    TokenControl,
    TokenIds,
    TokenOverlap,
    validate_strict,
)

__all__ = [
    "ANSWERS", "MAX_BATCH_PROMPTS", "POOLINGS", "ApiAnswer", "ApiRequest", "BatchSemanticEmbedRequest",
    "BatchSemanticEmbedResponse", "CheckedPrompt", "ControlledRequest", "DetokenizeRequest", "DetokenizeResponse",
    "EmbedRequest", "EmbedResponse", "EmbeddingsData", "EmbeddingsInput", "EmbeddingsRequest", "EmbeddingsResponse",
    "EmbeddingsUsage", "EmbeddingType", "ModelSettings", "Hosting", "Image", "ImageControl", "InstructableEmbedRequest", "InstructableEmbedResponse",
    "MAX_RERANK_DOCUMENTS", "ModelInfo", "ModelT", "RerankRequest", "RerankResponse", "RerankResult", "RerankUsage",
    "merge_reranked", "Pooling", "Prompt", "PromptItem", "SemanticEmbedRequest", "SemanticEmbedResponse",
    "SemanticRepresentation", "Text", "TextControl", "TokenControl", "TokenIds", "TokenOverlap", "TokenizeRequest",
    "TokenizeResponse", "decode_base64_floats", "encode_base64_floats", "validate_strict",
]


SemanticRepresentation = Literal["symmetric", "document", "query"]
MAX_BATCH_PROMPTS = 100
"""The most prompts one `/batch_semantic_embed` call takes (the clients split longer lists)."""


class ApiRequest(BaseModel):
    """What every embedding request shares: the model, the endpoint's path and `nice` (the query parameter)."""

    model_config = _STRICT
    path: ClassVar[str]

    model: str = Field(min_length=1)
    nice: bool = False

    def body(self) -> dict[str, Any]:
        """The JSON body as the API expects it: nullable fields left out when unset, booleans always set."""
        return self.model_dump(mode="json", **_BODY_DUMP)

    def body_json(self) -> bytes:
        """`body()` encoded, without the round trip through Python objects."""
        return self.model_dump_json(**_BODY_DUMP).encode()

    def params(self) -> dict[str, str]:
        """The query parameters (`nice=true` only when asked for)."""
        return {"nice": "true"} if self.nice else {}

    def count(self) -> int:
        """How many vectors the answer holds."""
        return 1


class ControlledRequest(ApiRequest):
    """The fields of the Aleph Alpha embedding endpoints beyond the model: hosting, normalisation, controls."""

    hosting: Hosting | None = None
    normalize: bool = False
    contextual_control_threshold: float | None = Field(default=None, ge=0, le=1)
    control_log_additive: bool = True


class EmbedRequest(ControlledRequest):
    """A `POST /embed` request. `nice` travels as the query parameter, never in the body."""

    path: ClassVar[str] = "embed"

    prompt: CheckedPrompt
    layers: list[int] = Field(default_factory=lambda: [-1], min_length=1)
    pooling: list[Pooling] = Field(default_factory=lambda: list[Pooling](["mean"]), min_length=1)
    tokens: bool = False
    type: str | None = None

    @field_validator("tokens", mode="before")
    @classmethod
    def _tokens_null_is_false(cls, value: Any) -> Any:
        return False if value is None else value

    @field_validator("pooling")
    @classmethod
    def _pooling_unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class SemanticEmbedRequest(ControlledRequest):
    """A `POST /semantic_embed` request: one vector for `prompt` as a `representation`, full size or `compress_to_size`."""

    path: ClassVar[str] = "semantic_embed"

    prompt: CheckedPrompt
    representation: SemanticRepresentation = "symmetric"
    compress_to_size: Literal[128] | None = None


class BatchSemanticEmbedRequest(ControlledRequest):
    """A `POST /batch_semantic_embed` request. The API takes up to `MAX_BATCH_PROMPTS` prompts per call; the clients
    split any number into such calls (`split`)."""

    path: ClassVar[str] = "batch_semantic_embed"

    prompts: list[CheckedPrompt] = Field(min_length=1)
    representation: SemanticRepresentation = "symmetric"
    compress_to_size: Literal[128] | None = None

    def count(self) -> int:
        return len(self.prompts)

    def split(self, size: int = MAX_BATCH_PROMPTS) -> list[BatchSemanticEmbedRequest]:
        """This request as calls of at most `size` prompts, in order."""
        return [
            self.model_copy(update={"prompts": self.prompts[start : start + size]})
            for start in range(0, len(self.prompts), size)
        ]


class InstructableEmbedRequest(ControlledRequest):
    """A `POST /instructable_embed` request: `input` embedded as `instruction` asks."""

    path: ClassVar[str] = "instructable_embed"

    input: CheckedPrompt
    instruction: str = ""


EmbeddingsInput = Union[str, list[str], list[int], list[list[int]]]


class EmbeddingsRequest(ApiRequest):
    """A `POST /embeddings` request (OpenAI-compatible): one vector per text or token-id list of `input`."""

    path: ClassVar[str] = "embeddings"

    input: EmbeddingsInput
    dimensions: int | None = Field(default=None, gt=0)
    encoding_format: Literal["float", "base64"] | None = None

    @field_validator("input")
    @classmethod
    def _input_not_empty(cls, value: EmbeddingsInput) -> EmbeddingsInput:
        if not value or (isinstance(value, list) and any(not item for item in value)):
            raise ValueError("an empty text or list; the API rejects it")
        return value

    def count(self) -> int:
        return 1 if isinstance(self.input, str) or isinstance(self.input[0], int) else len(self.input)


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""A vector component: JSON has no NaN or infinity, and a number like 1e400 overflows to one."""
Vector = Annotated[list[FiniteFloat], Field(min_length=1)]
LayerKey = Annotated[str, Field(pattern=r"^layer_[0-9]+$")]


class ApiAnswer(BaseModel):
    """What every embedding answer tells: the prompt tokens it used (for usage accounting). Its vectors are finite
    (`Vector`) and of one dimension; parsed with the request in the validation context (`{"request": ...}`, as the
    clients do), it is also checked to answer that request (`_check_answers`)."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _well_formed(self, info: ValidationInfo) -> ApiAnswer:
        sizes = set(self._dimensions())
        if len(sizes) > 1:
            raise ValueError(f"vectors of different dimensions {sorted(sizes)} in one answer")
        request = (info.context or {}).get("request")
        if request is not None:
            self._check_answers(request)
        return self

    def _dimensions(self) -> Iterable[int]:
        """The length of each vector of the answer."""
        return ()

    def _check_answers(self, request: Any) -> None:
        """Raise `ValueError` naming what of `request` this answer lacks."""

    @property
    def prompt_tokens(self) -> int:
        return int(getattr(self, "num_tokens_prompt_total"))

    def received(self, request: Any) -> ApiAnswer:
        """The answer as the client hands it out for `request` (the default: as it came)."""
        return self


class EmbedResponse(ApiAnswer):
    """A `/embed` answer. `embeddings` keeps the raw `{"layer_N": {pooling: vector}}` mapping."""

    model_version: str
    embeddings: dict[LayerKey, dict[str, Vector]] | None = None
    tokens: list[str] | None = None
    num_tokens_prompt_total: int

    _request_layers: list[int] | None = PrivateAttr(default=None)

    def with_request(self, request: EmbedRequest) -> EmbedResponse:
        """Remember the request's layer indices so `vector` can resolve negative ones."""
        self._request_layers = list(request.layers)
        return self

    def received(self, request: Any) -> EmbedResponse:
        return self.with_request(request)

    def _dimensions(self) -> Iterable[int]:
        return (len(vector) for poolings in (self.embeddings or {}).values() for vector in poolings.values())

    def _check_answers(self, request: EmbedRequest) -> None:
        if self.embeddings is None:
            raise ValueError('no embeddings ("embeddings": null)')
        if len(self.embeddings) > len(set(request.layers)):
            raise ValueError(f"layers {sorted(self.embeddings)} for the requested {request.layers}")
        self.with_request(request)
        for layer in request.layers:
            try:
                key = self.layer_key(layer)
            except KeyError as error:
                raise ValueError(f"the layers do not match the request: {error.args[0]}") from None
            poolings = self.embeddings.get(key)
            if poolings is None:
                raise ValueError(f"lacks layer {layer} ({key}); it has {sorted(self.embeddings)}")
            missing = [pooling for pooling in request.pooling if pooling not in poolings]
            if missing:
                raise ValueError(f"lacks pooling {missing} of {key}; it has {sorted(poolings)}")

    def layer_key(self, layer: int) -> str:
        """The absolute response key (`layer_N`) for a layer index as it was requested."""
        keys = set(self.embeddings or {})
        if layer >= 0:
            return f"layer_{layer}"
        requested = self._request_layers
        if requested is None or layer not in requested:
            if len(keys) == 1 and requested is None:
                return next(iter(keys))
            raise KeyError(f"layer {layer} was not requested (requested: {requested})")
        absolute = {int(key.removeprefix("layer_")) for key in keys}
        for depth in sorted({k - l for k in absolute for l in requested if l < 0}):
            resolved = {l if l >= 0 else depth + l for l in requested}
            if resolved == absolute:
                return f"layer_{depth + layer}"
        raise KeyError(f"cannot map layer {layer} onto the returned keys {sorted(keys)}")

    def vector(self, layer: int, pooling: str) -> list[float]:
        """The pooled vector of `layer` (as requested, negative allowed) and `pooling`."""
        key = self.layer_key(layer)
        layers = self.embeddings or {}
        if key not in layers:
            raise KeyError(f"layer {layer} ({key}) not in the response; it has {sorted(layers)}")
        if pooling not in layers[key]:
            raise KeyError(f"pooling {pooling!r} not in the response; it has {sorted(layers[key])}")
        return layers[key][pooling]


class SemanticEmbedResponse(ApiAnswer):
    """A `/semantic_embed` answer: one vector."""

    model_version: str
    embedding: Vector
    num_tokens_prompt_total: int

    def vectors(self) -> list[list[float]]:
        return [self.embedding]


class InstructableEmbedResponse(SemanticEmbedResponse):
    """An `/instructable_embed` answer: one vector."""


class BatchSemanticEmbedResponse(ApiAnswer):
    """A `/batch_semantic_embed` answer: one vector per prompt, in prompt order; the tokens of all prompts."""

    model_version: str
    embeddings: list[Vector]
    num_tokens_prompt_total: int

    def vectors(self) -> list[list[float]]:
        return self.embeddings

    def _dimensions(self) -> Iterable[int]:
        return map(len, self.embeddings)


def decode_base64_floats(data: str) -> list[float]:
    """The little-endian float32 values of an `encoding_format: base64` embedding."""
    raw = base64.b64decode(data, validate=True)
    if len(raw) % 4:
        raise ValueError(f"a base64 embedding of {len(raw)} bytes is not a whole number of float32 values")
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def encode_base64_floats(vector: list[float]) -> str:
    """`vector` as an `encoding_format: base64` embedding (little-endian float32)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


class EmbeddingsUsage(BaseModel):
    """The `usage` of an `/embeddings` answer."""

    model_config = ConfigDict(extra="allow")

    prompt_tokens: int
    total_tokens: int


class EmbeddingsData(BaseModel):
    """One vector of an `/embeddings` answer: floats, or base64 of little-endian float32 as it travels."""

    model_config = ConfigDict(extra="allow")

    object: Literal["embedding"] = "embedding"
    embedding: Vector | str
    index: int = Field(ge=0)

    @field_validator("embedding")
    @classmethod
    def _base64_decodes(cls, value: list[float] | str) -> list[float] | str:
        if isinstance(value, str):
            try:
                floats = decode_base64_floats(value)
            except (binascii.Error, ValueError) as error:
                raise ValueError(f"not a base64 float32 embedding: {error}") from None
            if not floats or not all(map(math.isfinite, floats)):
                raise ValueError("a base64 embedding that is empty or not finite (NaN or infinity)")
        return value

    @property
    def vector(self) -> list[float]:
        return decode_base64_floats(self.embedding) if isinstance(self.embedding, str) else self.embedding

    @property
    def dimensions(self) -> int:
        """The vector's length, base64 not unpacked (the validator checked it)."""
        if isinstance(self.embedding, str):
            return len(base64.b64decode(self.embedding)) // 4
        return len(self.embedding)


class EmbeddingsResponse(ApiAnswer):
    """An `/embeddings` answer (OpenAI-compatible). The clients hand it out with float vectors, decoded from base64
    where the request asked for that encoding."""

    object: Literal["list"] = "list"
    data: list[EmbeddingsData]
    model: str
    usage: EmbeddingsUsage

    @property
    def prompt_tokens(self) -> int:
        return self.usage.prompt_tokens

    def vectors(self) -> list[list[float]]:
        """The vectors in input order (by `index`), as floats."""
        return [item.vector for item in sorted(self.data, key=lambda item: item.index)]

    def _dimensions(self) -> Iterable[int]:
        return (item.dimensions for item in self.data)

    def _check_answers(self, request: EmbeddingsRequest) -> None:
        if sorted(item.index for item in self.data) != list(range(request.count())):
            raise ValueError(f"indexes {sorted(item.index for item in self.data)} for {request.count()} inputs")

    def received(self, request: Any) -> EmbeddingsResponse:
        decoded = [item.model_copy(update={"embedding": item.vector}) for item in self.data]
        return self.model_copy(update={"data": decoded})


MAX_RERANK_DOCUMENTS = 100
"""The most documents one `/rerank` call carries (the clients split longer lists and merge the results)."""


class RerankRequest(ApiRequest):
    """A `POST /rerank` request: `documents` scored for `query` by a reranking model, the best `top_n` (all when
    None) answered. The clients split any number of documents into calls of `MAX_RERANK_DOCUMENTS` (`split`)."""

    path: ClassVar[str] = "rerank"

    query: str = Field(min_length=1)
    documents: list[str] = Field(min_length=1)
    top_n: int | None = Field(default=None, ge=1)

    def count(self) -> int:
        return min(self.top_n or len(self.documents), len(self.documents))

    def split(self, size: int = MAX_RERANK_DOCUMENTS) -> list[RerankRequest]:
        """This request as calls of at most `size` documents, in order (each answers its own best `top_n`)."""
        return [
            self.model_copy(update={"documents": self.documents[start : start + size]})
            for start in range(0, len(self.documents), size)
        ]


class RerankResult(BaseModel):
    """One scored document: its index in the request's `documents` and its relevance to the query."""

    model_config = ConfigDict(extra="allow")

    index: int = Field(ge=0)
    relevance_score: FiniteFloat


class RerankUsage(BaseModel):
    """The `usage` of a `/rerank` answer."""

    model_config = ConfigDict(extra="allow")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class RerankResponse(ApiAnswer):
    """A `/rerank` answer: the scored documents, best first; parsed with its request, it is checked to answer each
    document at most once, within range, as many as asked for."""

    results: list[RerankResult]
    usage: RerankUsage = Field(default_factory=RerankUsage)

    @property
    def prompt_tokens(self) -> int:
        """The tokens the call used (`/rerank` reports them as `total_tokens`; it completes nothing)."""
        return self.usage.total_tokens

    def _check_answers(self, request: Any) -> None:
        indexes = [result.index for result in self.results]
        if len(set(indexes)) != len(indexes) or any(index >= len(request.documents) for index in indexes):
            raise ValueError(f"indexes {indexes} do not each name one of the {len(request.documents)} documents once")
        if len(indexes) != request.count():
            raise ValueError(f"{len(indexes)} results for {request.count()} asked for")


ANSWERS: dict[type[ApiRequest], type[ApiAnswer]] = {
    EmbedRequest: EmbedResponse,
    SemanticEmbedRequest: SemanticEmbedResponse,
    BatchSemanticEmbedRequest: BatchSemanticEmbedResponse,
    InstructableEmbedRequest: InstructableEmbedResponse,
    EmbeddingsRequest: EmbeddingsResponse,
    RerankRequest: RerankResponse,
}
"""The answer model of each request model."""
