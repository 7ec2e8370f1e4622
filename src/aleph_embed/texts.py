"""Texts to vectors: the settings every integration shares, and the handling of empty texts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .errors import BatchEmbedError, EmptyTextError, TextEmbedError
from .models import EmbedRequest, EmbedResponse, Hosting, Pooling

EmptyText = Literal["error", "skip", "placeholder"]
LongText = Literal["error", "truncate", "average"]
_T = TypeVar("_T")


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


class EmbeddingSettings(EmbeddingOptions):
    """How a text becomes a vector: the model, the `/embed` fields of its request and which (layer, pooling) to keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)

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
        plan: list[EmbedRequest | None] = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {index}: expected a str, got {type(text).__name__}")
            sent = self.prompt_text(text)
            if sent is None and self.empty_text == "error":
                raise EmptyTextError(
                    f"text {index} is empty; the API rejects empty prompts. Remove it, or set "
                    "empty_text='placeholder' (embeds a placeholder) or empty_text='skip' (zero vector)"
                )
            plan.append(None if sent is None else self.request(prefix + sent))
        return plan

    def probe_request(self) -> EmbedRequest:
        """A request that tells the vector size, for when every text was skipped."""
        return self.request(self.placeholder)


class TextBatch:
    """The requests for a list of texts, and what comes back put at the texts' positions."""

    def __init__(self, settings: EmbeddingSettings, texts: Sequence[str], prefix: str = "") -> None:
        self.settings = settings
        self.texts = texts
        self.plan = settings.plan(texts, prefix)
        self.requests = [request for request in self.plan if request is not None]
        self._positions = [index for index, request in enumerate(self.plan) if request is not None]

    @property
    def needs_probe(self) -> bool:
        """Every text was skipped, so one probe call must tell the vector size."""
        return not self.requests and bool(self.plan)

    def _placed(self, sent: Sequence[_T]) -> list[_T | None]:
        """Values of the sent requests at their texts' positions, None where a text was skipped."""
        placed: list[_T | None] = [None] * len(self.plan)
        for position, value in zip(self._positions, sent):
            placed[position] = value
        return placed

    def error(self, error: BatchEmbedError) -> TextEmbedError:
        """A failed `embed_many` over `requests`, keyed by the texts' own indices."""
        errors = {self._positions[sent]: failure for sent, failure in error.errors.items()}
        return TextEmbedError(self._placed(error.results), errors, self.texts)

    def vectors(self, responses: Sequence[EmbedResponse], probe: EmbedResponse | None = None) -> list[list[float]]:
        """One vector per text; zero vectors where texts were skipped."""
        placed = self._placed([self.settings.vector(response) for response in responses])
        return zero_where_skipped(placed, self.settings, probe)


def zero_where_skipped(
    vectors: Sequence[list[float] | None], settings: EmbeddingSettings, probe: EmbedResponse | None
) -> list[list[float]]:
    """The vectors, a zero vector of the same size where a text was skipped (sized by `probe` when all were)."""
    known = next((vector for vector in vectors if vector is not None), None)
    dimension = len(known) if known is not None else len(settings.vector(probe)) if probe else 0
    return [vector if vector is not None else [0.0] * dimension for vector in vectors]
