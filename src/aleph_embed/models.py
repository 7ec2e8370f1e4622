"""The `/embed` contract: request, prompt items and response, as the real API speaks it."""

from __future__ import annotations

import base64
import binascii
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

Pooling = Literal["mean", "weighted_mean", "max", "last_token", "abs_max"]
POOLINGS: tuple[Pooling, ...] = get_args(Pooling)
TokenOverlap = Literal["partial", "complete"]
Hosting = Literal["aleph-alpha"]

_STRICT = ConfigDict(extra="forbid", frozen=True)
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


class Text(BaseModel):
    """A text prompt item."""

    model_config = _STRICT

    type: Literal["text"] = "text"
    data: str
    controls: list[TextControl] = Field(default_factory=list)

    def __init__(self, data: str | None = None, /, **kwargs: Any) -> None:
        if data is not None:
            kwargs["data"] = data
        super().__init__(**kwargs)

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


class TokenIds(BaseModel):
    """Token ids used as they are."""

    model_config = _STRICT

    type: Literal["token_ids"] = "token_ids"
    data: list[int] = Field(min_length=1)
    controls: list[TokenControl] = Field(default_factory=list)

    def __init__(self, data: list[int] | None = None, /, **kwargs: Any) -> None:
        if data is not None:
            kwargs["data"] = data
        super().__init__(**kwargs)

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


class EmbedRequest(BaseModel):
    """A `POST /embed` request. `nice` travels as the query parameter, never in the body."""

    model_config = _STRICT

    model: str = Field(min_length=1)
    prompt: Prompt
    layers: list[int] = Field(default_factory=lambda: [-1], min_length=1)
    pooling: list[Pooling] = Field(default_factory=lambda: list[Pooling](["mean"]), min_length=1)
    hosting: Hosting | None = None
    tokens: bool = False
    type: str | None = None
    normalize: bool = False
    contextual_control_threshold: float | None = Field(default=None, ge=0, le=1)
    control_log_additive: bool = True
    nice: bool = False

    @field_validator("tokens", mode="before")
    @classmethod
    def _tokens_null_is_false(cls, value: Any) -> Any:
        return False if value is None else value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, value: str | list[Any]) -> str | list[Any]:
        if isinstance(value, str) and not value:
            raise ValueError("prompt: empty text; the API rejects it (filter empty texts out first)")
        if isinstance(value, list):
            if not value:
                raise ValueError("prompt: an empty list of items; give at least one item")
            if all(isinstance(item, Text) and not item.data for item in value):
                raise ValueError("prompt: every text item is empty; the API rejects it")
        return value

    @field_validator("pooling")
    @classmethod
    def _pooling_unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def body(self) -> dict[str, Any]:
        """The JSON body as the API expects it: nullable fields left out when unset, booleans always set."""
        return self.model_dump(mode="json", **_BODY_DUMP)

    def body_json(self) -> bytes:
        """`body()` encoded, without the round trip through Python objects."""
        return self.model_dump_json(**_BODY_DUMP).encode()

    def params(self) -> dict[str, str]:
        """The query parameters (`nice=true` only when asked for)."""
        return {"nice": "true"} if self.nice else {}


class EmbedResponse(BaseModel):
    """A `/embed` answer. `embeddings` keeps the raw `{"layer_N": {pooling: vector}}` mapping."""

    model_config = ConfigDict(extra="allow")

    model_version: str
    embeddings: dict[str, dict[str, list[float]]] | None = None
    tokens: list[str] | None = None
    num_tokens_prompt_total: int

    _request_layers: list[int] | None = PrivateAttr(default=None)

    def with_request(self, request: EmbedRequest) -> EmbedResponse:
        """Remember the request's layer indices so `vector` can resolve negative ones."""
        self._request_layers = list(request.layers)
        return self

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
        absolute = {int(key.removeprefix("layer_")) for key in keys if key.startswith("layer_")}
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

