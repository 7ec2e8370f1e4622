"""Texts to vectors: the settings every integration shares, and the handling of empty texts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .errors import BadRequestError, BatchEmbedError, describe_failures
from .models import EmbedRequest, EmbedResponse, Hosting, Pooling

EmptyText = Literal["error", "skip", "placeholder"]
_T = TypeVar("_T")


class EmptyTextError(ValueError):
    """A text is empty (the API rejects empty prompts)."""


class TextEmbedError(BatchEmbedError):
    """Some texts could not be embedded. `errors` maps each failed text's index in the caller's list to its error;
    `results` holds the responses at the texts' positions (None where a text failed or was skipped)."""

    def __init__(self, results: list[EmbedResponse | None], errors: Mapping[int, Exception]):
        super().__init__(results, errors)
        head = "" if len(errors) == 1 else f"{len(errors)} of {len(results)} texts failed; "
        hint = ""
        if any(isinstance(e, BadRequestError) for e in errors.values()):
            hint = ". The API rejects such texts as they are: shorten or split them (e.g. with a text splitter)"
        self.args = (head + describe_failures(errors, "text") + hint,)


class EmbeddingOptions(BaseModel):
    """The `/embed` options of a text's request, and what an empty text does; shared by `EmbeddingSettings` and the
    framework adapters.

    `empty_text` decides what an empty (or all-whitespace) text does: `error` (default) raises, `placeholder`
    embeds `placeholder` instead, `skip` sends nothing and gives the text a zero vector (it matches nothing).
    """

    model_config = ConfigDict(extra="forbid")

    layer: int = -1
    pooling: Pooling = "mean"
    normalize: bool = True
    hosting: Hosting | None = None
    nice: bool = False
    control_log_additive: bool = True
    contextual_control_threshold: float | None = Field(default=None, ge=0, le=1)
    empty_text: EmptyText = "error"
    placeholder: str = Field(default="(empty)", min_length=1)


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
        return TextEmbedError(self._placed(error.results), errors)

    def vectors(self, responses: Sequence[EmbedResponse], probe: EmbedResponse | None = None) -> list[list[float]]:
        """One vector per text; zero vectors where texts were skipped."""
        placed = self._placed([self.settings.vector(response) for response in responses])
        known = next((vector for vector in placed if vector is not None), None)
        dimension = len(known) if known is not None else len(self.settings.vector(probe)) if probe else 0
        return [vector if vector is not None else [0.0] * dimension for vector in placed]
