"""Texts to vectors: the settings every integration shares, and the handling of empty texts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import (
    ConfigurationError,
    EmptyTextError,
    InvalidResponseError,
    TextEmbedError,
    UnknownModelError,
    validation_summary,
)
from .models import (
    MAX_BATCH_PROMPTS,
    ApiAnswer,
    ApiRequest,
    BatchSemanticEmbedRequest,
    BatchSemanticEmbedResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    Hosting,
    InstructableEmbedRequest,
    ModelSettings,
    Pooling,
    SemanticEmbedRequest,
    SemanticEmbedResponse,
)

EmptyText = Literal["error", "skip", "placeholder"]
LongText = Literal["error", "truncate", "average"]
Endpoint = Literal["embed", "semantic", "instructable", "openai"]
EndpointChoice = Literal["auto", "embed", "semantic", "instructable", "openai"]
"""An endpoint, or `auto`: the one the model is meant for, which a client reads from the host (`resolve_endpoint`)."""
Side = Literal["document", "query"]
"""Which side of a search a text is on: documents are stored, queries look for them."""
_T = TypeVar("_T")
DEFAULT_DOCUMENT_INSTRUCTION = "Represent the document to be retrieved by questions about its content"
DEFAULT_QUERY_INSTRUCTION = "Represent the question to retrieve the documents that answer it"


class EmbeddingOptions(BaseModel):
    """The `/embed` options of a text's request, and what an empty text does: declared once here, with their
    descriptions, for `EmbeddingSettings`, the framework adapters, the CLI's flags and the README's option table."""

    model_config = ConfigDict(extra="forbid")

    layer: int = Field(default=-1, description="Layer whose output is pooled: 0 the embeddings, negative from the end.")
    pooling: Pooling = Field(default="mean", description="How token vectors become one vector.")
    normalize: bool = Field(default=True, description="L2-normalise the vector.")
    hosting: Hosting | None = Field(
        default=None, description="`aleph-alpha`: process only in Aleph Alpha's own datacenters."
    )
    nice: bool = Field(default=False, description="Let other requests go first (the `nice` query parameter).")
    control_log_additive: bool = Field(
        default=True, description="Attention controls add log(factor) to scores (else multiply)."
    )
    contextual_control_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Extend controls to tokens at least this similar (0..1)."
    )
    empty_text: EmptyText = Field(
        default="error",
        description="An empty text: `error` raises, `placeholder` embeds the placeholder, `skip` gives a zero vector.",
    )
    placeholder: str = Field(default="(empty)", min_length=1, description="What `empty_text=placeholder` embeds.")
    long_text: LongText = Field(
        default="error",
        description="A text over the model's context: `error` raises naming it, `truncate` embeds the start that "
        "fits (by the model's tokenizer), `average` embeds its chunks and averages them weighted by tokens.",
    )
    endpoint: EndpointChoice = Field(
        default="embed",
        description="The API endpoint: `embed` (/embed: `layer`, `pooling`), `semantic` (/semantic_embed, documents "
        "through /batch_semantic_embed), `instructable` (/instructable_embed), `openai` (/embeddings), `auto` (the one "
        "the model is meant for, from the host's /model-settings; `embed` on a host without it).",
    )
    symmetric: bool = Field(
        default=False,
        description="semantic: embed documents and queries alike (`symmetric`) instead of as `document` / `query`.",
    )
    compress_to_size: Literal[128] | None = Field(
        default=None, description="semantic: 128 asks for the model's learned 128-dimensional projection."
    )
    document_instruction: str = Field(
        default=DEFAULT_DOCUMENT_INSTRUCTION, min_length=1, description="instructable: the instruction for documents."
    )
    query_instruction: str = Field(
        default=DEFAULT_QUERY_INSTRUCTION, min_length=1, description="instructable: the instruction for queries."
    )
    dimensions: int | None = Field(
        default=None, gt=0, description="openai: shorten vectors to this size (where the model supports it)."
    )
    encoding_format: Literal["float", "base64"] = Field(
        default="base64", description="openai: how vectors travel (`base64` is 4 times smaller); floats either way."
    )

    @model_validator(mode="after")
    def _options_fit_the_endpoint(self) -> EmbeddingOptions:
        """An option of another endpoint would be silently ignored: say so instead (for `auto`, once chosen)."""
        if self.endpoint == "auto":
            return self
        misplaced = [
            name for name, endpoint in _ENDPOINT_OPTIONS.items()
            if endpoint != self.endpoint and getattr(self, name) != EmbeddingOptions.model_fields[name].default
        ]
        if misplaced:
            owners = ", ".join(f"{name} ({_ENDPOINT_OPTIONS[name]})" for name in misplaced)
            raise ValueError(f"{owners}: not an option of endpoint {self.endpoint!r}; set endpoint or drop them")
        if self.long_text != "error" and self.endpoint != "embed":
            raise ValueError(f"long_text={self.long_text!r} works with endpoint 'embed' only")
        return self

    def endpoint_options(self) -> dict[str, Any]:
        """The endpoint and those of its options that shape the vectors; empty for `embed` (whose layer and pooling
        are recorded with each vector)."""
        if self._concrete() == "embed":
            return {}
        owned = [name for name, endpoint in _ENDPOINT_OPTIONS.items() if endpoint == self.endpoint]
        return {"endpoint": self.endpoint, **{name: getattr(self, name) for name in owned if name != "encoding_format"}}

    def prompts_per_call(self, side: Side = "document") -> int:
        """How many texts one call embeds: up to `MAX_BATCH_PROMPTS` where the endpoint takes many (`semantic`
        documents through /batch_semantic_embed, `openai`), else one."""
        endpoint = self._concrete()
        many = endpoint == "openai" or (endpoint == "semantic" and side == "document")
        return MAX_BATCH_PROMPTS if many else 1


    def _concrete(self) -> Endpoint:
        if self.endpoint == "auto":
            raise ConfigurationError(
                "endpoint='auto' is chosen by a client from the host: embed through a client (embed_texts), or "
                "settings = client.resolve_endpoint(settings) first"
            )
        return self.endpoint


def endpoint_for(model: str, listed: Sequence[ModelSettings] | None) -> Endpoint:
    """The endpoint `model` is meant for by its `embedding_type` in the host's `/model-settings` (`listed`; None:
    a host without it, whose models answer `/embed`): `raw` -> `embed`, `semantic` -> `semantic`, `instructable` ->
    `instructable`, otherwise `openai` (/embeddings). A model the host does not list is `UnknownModelError`."""
    if listed is None:
        return "embed"
    for settings in listed:
        if settings.name == model:
            kinds: dict[str | None, Endpoint] = {"raw": "embed", "semantic": "semantic", "instructable": "instructable"}
            return kinds.get(settings.embedding_type, "openai")
    names = sorted(settings.name for settings in listed)
    raise UnknownModelError(f"model {model!r} is not served here; available: {names}", status_code=404)


_ENDPOINT_OPTIONS: dict[str, Endpoint] = {
    "layer": "embed", "pooling": "embed", "symmetric": "semantic", "compress_to_size": "semantic",
    "document_instruction": "instructable", "query_instruction": "instructable", "dimensions": "openai",
    "encoding_format": "openai",
}
"""The options that belong to one endpoint."""


class EmbeddingSettings(EmbeddingOptions):
    """How a text becomes a vector: the model, the `/embed` fields of its request and which (layer, pooling) to keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)

    def with_endpoint(self, endpoint: Endpoint) -> EmbeddingSettings:
        """These settings through `endpoint` (what `auto` chose); an option that does not apply to it is a
        `ConfigurationError` naming it."""
        try:
            return type(self).model_validate({**self.model_dump(), "endpoint": endpoint})
        except ValidationError as error:
            raise ConfigurationError(
                f"model {self.model!r} embeds through endpoint {endpoint!r} (endpoint='auto'): "
                f"{validation_summary(error)}"
            ) from None

    def request(self, text: str, *, layers: Sequence[int] = (), pooling: Sequence[Pooling] = ()) -> EmbedRequest:
        """The request for one text; `layers`/`pooling` add outputs beyond the settings' own."""
        return EmbedRequest(
            model=self.model,
            prompt=text,
            layers=list(dict.fromkeys([self.layer, *layers])),
            pooling=list(dict.fromkeys([self.pooling, *pooling])),
            normalize=self.normalize,
            hosting=self.hosting,
            nice=self.nice,
            control_log_additive=self.control_log_additive,
            contextual_control_threshold=self.contextual_control_threshold,
        )

    def vector(self, response: EmbedResponse) -> list[float]:
        return response.vector(self.layer, self.pooling)

    def prompt_text(self, text: str) -> str | None:
        """The text to send for `text`: itself, the placeholder for an empty text when asked for, else None."""
        if text.strip():
            return text
        return self.placeholder if self.empty_text == "placeholder" else None

    def plan(self, texts: Sequence[str], prefix: str = "") -> list[EmbedRequest | None]:
        """One request per text, None where an empty text is skipped; raises `EmptyTextError` naming the index."""
        return [None if sent is None else self.request(sent) for sent in self.sent_texts(texts, prefix)]

    def sent_texts(self, texts: Sequence[str], prefix: str = "") -> list[str | None]:
        """What is sent for each text (`prefix` in front), None where an empty text is skipped; raises
        `EmptyTextError` naming the index."""
        plan: list[str | None] = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {index}: expected a str, got {type(text).__name__}")
            sent = self.prompt_text(text)
            if sent is None and self.empty_text == "error":
                raise EmptyTextError(
                    f"text {index} is empty; the API rejects empty prompts. Remove it, or set "
                    "empty_text='placeholder' (embeds a placeholder) or empty_text='skip' (zero vector)"
                )
            plan.append(None if sent is None else prefix + sent)
        return plan

    def calls(self, texts: Sequence[str], side: Side = "document") -> list[ApiRequest]:
        """The requests that embed `texts` (none empty) on `side` through the endpoint, in order: one text per call,
        or up to `MAX_BATCH_PROMPTS` per call where the endpoint takes many (`semantic` documents, `openai`)."""
        controls: dict[str, Any] = {
            "model": self.model, "nice": self.nice, "hosting": self.hosting, "normalize": self.normalize,
            "control_log_additive": self.control_log_additive,
            "contextual_control_threshold": self.contextual_control_threshold,
        }
        size, endpoint = self.prompts_per_call(side), self._concrete()
        batches = [texts[start : start + size] for start in range(0, len(texts), size)]
        if endpoint == "semantic":
            semantic = {**controls, "representation": "symmetric" if self.symmetric else side,
                        "compress_to_size": self.compress_to_size}
            if size == 1:
                return [SemanticEmbedRequest(prompt=text, **semantic) for text in texts]
            return [BatchSemanticEmbedRequest(prompts=list(batch), **semantic) for batch in batches]
        if endpoint == "instructable":
            instruction = self.document_instruction if side == "document" else self.query_instruction
            return [InstructableEmbedRequest(input=text, instruction=instruction, **controls) for text in texts]
        if endpoint == "openai":
            return [
                EmbeddingsRequest(model=self.model, nice=self.nice, input=list(batch), dimensions=self.dimensions,
                                  encoding_format=self.encoding_format)
                for batch in batches
            ]
        return [self.request(text) for text in texts]

    def vectors(self, answer: ApiAnswer) -> list[list[float]]:
        """The vectors of one call's answer, in its texts' order (normalised here where the endpoint cannot)."""
        if isinstance(answer, EmbedResponse):
            return [self.vector(answer)]
        if isinstance(answer, EmbeddingsResponse):
            return [_unit(vector) if self.normalize else vector for vector in answer.vectors()]
        if isinstance(answer, (SemanticEmbedResponse, BatchSemanticEmbedResponse)):
            return answer.vectors()
        raise TypeError(f"not an embedding answer: {type(answer).__name__}")

    def probe_request(self) -> EmbedRequest:
        """A request that tells the vector size, for when every text was skipped."""
        return self.request(self.placeholder)

    def probe_call(self, side: Side = "document") -> ApiRequest:
        """`probe_request` through the endpoint."""
        return self.calls([self.placeholder], side)[0]


class TextBatch:
    """The calls that embed a list of texts, and what comes back put at the texts' positions."""

    def __init__(self, settings: EmbeddingSettings, texts: Sequence[str], prefix: str = "", side: Side = "document") -> None:
        self.settings = settings
        self.texts = texts
        sent = settings.sent_texts(texts, prefix)
        self._positions = [index for index, text in enumerate(sent) if text is not None]
        self.calls = settings.calls([text for text in sent if text is not None], side)

    @property
    def needs_probe(self) -> bool:
        """Every text was skipped, so one probe call must tell the vector size."""
        return not self.calls and bool(self.texts)

    def vectors(self, answers: Sequence[ApiAnswer | Exception], probe: ApiAnswer | None = None) -> list[list[float]]:
        """One vector per text, zero vectors where texts were skipped; raises `TextEmbedError` keyed by the texts'
        own indices when calls failed (every other text's vector in its `results`)."""
        per_call = [answer if isinstance(answer, Exception) else self.settings.vectors(answer) for answer in answers]
        sent, errors = spread([call.count() for call in self.calls], per_call)
        placed: list[list[float] | None] = [None] * len(self.texts)
        for position, vector in zip(self._positions, sent):
            placed[position] = vector
        if errors:
            raise TextEmbedError(placed, {self._positions[i]: error for i, error in errors.items()}, self.texts)
        return zero_where_skipped(placed, self.settings, probe)


def spread(
    counts: Sequence[int], answers: Sequence[Sequence[_T] | Exception]
) -> tuple[list[_T | None], dict[int, Exception]]:
    """The answers of calls that each cover `count` items, as one value per item (None where its call failed) and
    each failed item's error by item index; an answer with the wrong number of values fails its items."""
    items: list[_T | None] = []
    errors: dict[int, Exception] = {}
    for count, answer in zip(counts, answers):
        if not isinstance(answer, Exception) and len(answer) != count:
            answer = InvalidResponseError(f"the answer holds {len(answer)} vectors for {count} prompts")
        if isinstance(answer, Exception):
            errors.update({len(items) + i: answer for i in range(count)})
            items.extend([None] * count)
        else:
            items.extend(answer)
    return items, errors


def zero_where_skipped(
    vectors: Sequence[list[float] | None], settings: EmbeddingSettings, probe: ApiAnswer | None
) -> list[list[float]]:
    """The vectors, a zero vector of the same size where a text was skipped (sized by `probe` when all were)."""
    known = next((vector for vector in vectors if vector is not None), None)
    dimension = len(known) if known is not None else len(settings.vectors(probe)[0]) if probe else 0
    return [vector if vector is not None else [0.0] * dimension for vector in vectors]


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector
