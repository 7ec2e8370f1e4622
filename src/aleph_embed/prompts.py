"""The prompt of an embedding request as the real API takes it: texts, images and token ids with their attention
controls, the poolings and hostings; and strict parsing (no type coercion) for the server."""

from __future__ import annotations

import base64
import binascii
from contextvars import ContextVar
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

from .poolings import POOLINGS, Pooling

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
