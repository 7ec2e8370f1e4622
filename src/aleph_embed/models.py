"""The `/embed` contract: request, prompt items and response, as the real API speaks it."""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Iterable
from contextvars import ContextVar
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

Pooling = Literal["mean", "weighted_mean", "max", "last_token", "abs_max"]
POOLINGS: tuple[Pooling, ...] = get_args(Pooling)
TokenOverlap = Literal["partial", "complete"]
Hosting = Literal["aleph-alpha"]

_STRICT = ConfigDict(extra="forbid", frozen=True)
_strict_types: ContextVar[bool] = ContextVar("aleph_embed_strict_types", default=False)
ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_strict(model: type[ModelT], data: Any) -> ModelT:  # noqa: ANN401 - parsed JSON
    """`data` (parsed JSON) as `model`, without any type coercion, in nested prompt items too: the real API's
    serde accepts no `"yes"` for a boolean, no `true` or `"5"` for a number."""
    reset = _strict_types.set(True)
    try:
        return model.model_validate(data, strict=True)
    finally:
        _strict_types.reset(reset)


class _DataFirst(BaseModel):
    """A prompt item that takes its `data` as the first positional argument."""

    def __init__(self, data: Any = None, /, **kwargs: Any) -> None:  # noqa: ANN401 - the subclass's data type
        if data is not None:
            kwargs["data"] = data
        # pydantic validates a model with its own __init__ through it, also when nested: pass strictness on
        self.__pydantic_validator__.validate_python(kwargs, self_instance=self, strict=_strict_types.get() or None)
_BODY_DUMP: dict[str, Any] = {"exclude": {"nice"}, "exclude_none": True}  # the body: no query field, no nulls


class TextControl(BaseModel):
    """Scales attention to the characters `[start, start + length)` of a text item by `factor`."""

    model_config = _STRICT

    start: int = Field(ge=0)
    length: int = Field(gt=0)
    factor: float = Field(ge=0)
    token_overlap: TokenOverlap | None = None


class ImageControl(BaseModel):
    """Scales attention to a rectangle of an image (coordinates are 0..1 of the whole image)."""

    model_config = _STRICT

    left: float = Field(ge=0, le=1)
    top: float = Field(ge=0, le=1)
    width: float = Field(ge=0, le=1)
    height: float = Field(ge=0, le=1)
    factor: float = Field(ge=0)
    token_overlap: TokenOverlap | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_rect(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("rect"), dict):
            data = {**data["rect"], **{k: v for k, v in data.items() if k != "rect"}}
        return data

    @model_validator(mode="after")
    def _inside_image(self) -> ImageControl:
        if self.left + self.width > 1 or self.top + self.height > 1:
            raise ValueError("controls: the rect must lie inside the image (left + width <= 1, top + height <= 1)")
        return self

    @model_serializer
    def _serialize(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "rect": {"left": self.left, "top": self.top, "width": self.width, "height": self.height},
            "factor": self.factor,
        }
        if self.token_overlap is not None:
            body["token_overlap"] = self.token_overlap
        return body


class TokenControl(BaseModel):
    """Scales attention to the token at `index` of a token-id item by `factor`."""

    model_config = _STRICT

    index: int = Field(ge=0)
    factor: float = Field(ge=0)


class Text(_DataFirst):
    """A text prompt item."""

    model_config = _STRICT

    type: Literal["text"] = "text"
    data: str
    controls: list[TextControl] = Field(default_factory=list)

    if TYPE_CHECKING:
        def __init__(self, data: str | None = None, /, **kwargs: Any) -> None: ...

    @model_validator(mode="after")
    def _controls_inside_text(self) -> Text:
        for i, control in enumerate(self.controls):
            if control.start + control.length > len(self.data):
                raise ValueError(
                    f"controls[{i}]: span start={control.start} length={control.length} ends after the text "
                    f"({len(self.data)} characters); shorten it to at most {len(self.data) - control.start}"
                )
        return self


class Image(BaseModel):
    """An image prompt item: base64 of the file bytes, optionally cropped to a square."""

    model_config = _STRICT

    type: Literal["image"] = "image"
    data: str
    x: int | None = Field(default=None, ge=0)
    y: int | None = Field(default=None, ge=0)
    size: int | None = Field(default=None, gt=0)
    controls: list[ImageControl] = Field(default_factory=list)

    @field_validator("data")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        if value.startswith("data:"):
            raise ValueError("data: pass plain base64 of the image file, without a 'data:...;base64,' prefix")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data: not valid base64; build the item with Image.from_bytes or Image.from_file") from None
        return value

    @model_validator(mode="after")
    def _crop_complete(self) -> Image:
        given = [v is not None for v in (self.x, self.y, self.size)]
        if any(given) and not all(given):
            raise ValueError("x, y, size: a crop needs all three (or none)")
        return self

    @model_serializer
    def _serialize(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "image", "data": self.data}
        if self.size is not None:
            body.update(x=self.x, y=self.y, size=self.size)
        body["controls"] = [control.model_dump() for control in self.controls]
        return body

    @classmethod
    def from_bytes(cls, content: bytes, **kwargs: Any) -> Image:
        return cls(data=base64.b64encode(content).decode("ascii"), **kwargs)

    @classmethod
    def from_file(cls, path: str | PathLike[str], **kwargs: Any) -> Image:
        return cls.from_bytes(Path(path).read_bytes(), **kwargs)

    @classmethod
    def from_base64(cls, data: str, **kwargs: Any) -> Image:
        return cls(data=data, **kwargs)


class TokenIds(_DataFirst):
    """Token ids used as they are."""

    model_config = _STRICT

    type: Literal["token_ids"] = "token_ids"
    data: list[int] = Field(min_length=1)
    controls: list[TokenControl] = Field(default_factory=list)

    if TYPE_CHECKING:
        def __init__(self, data: list[int] | None = None, /, **kwargs: Any) -> None: ...

    @model_validator(mode="after")
    def _controls_inside_ids(self) -> TokenIds:
        for i, control in enumerate(self.controls):
            if control.index >= len(self.data):
                raise ValueError(
                    f"controls[{i}]: index {control.index} is past the last token id (there are {len(self.data)})"
                )
        return self


PromptItem = Annotated[Union[Text, Image, TokenIds], Field(discriminator="type")]
Prompt = Annotated[
    Union[Annotated[str, Tag("text")], Annotated[list[PromptItem], Tag("items")]],
    Discriminator(lambda value: "text" if isinstance(value, str) else "items"),
]


def _non_empty_prompt(value: str | list[Any]) -> str | list[Any]:
    if isinstance(value, str) and not value:
        raise ValueError("empty text; the API rejects it (filter empty texts out first)")
    if isinstance(value, list):
        if not value:
            raise ValueError("an empty list of items; give at least one item")
        if all(isinstance(item, Text) and not item.data for item in value):
            raise ValueError("every text item is empty; the API rejects it")
    return value


CheckedPrompt = Annotated[Prompt, AfterValidator(_non_empty_prompt)]
"""A prompt the API takes: not an empty text, not an empty list, not only empty text items."""
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


ANSWERS: dict[type[ApiRequest], type[ApiAnswer]] = {
    EmbedRequest: EmbedResponse,
    SemanticEmbedRequest: SemanticEmbedResponse,
    BatchSemanticEmbedRequest: BatchSemanticEmbedResponse,
    InstructableEmbedRequest: InstructableEmbedResponse,
    EmbeddingsRequest: EmbeddingsResponse,
}
"""The answer model of each request model."""
