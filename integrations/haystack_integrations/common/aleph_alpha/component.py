"""The bases of the Aleph Alpha Haystack components, thin holders of the core (an embedder's `aleph_embed.TextEmbedder`,
the ranker's `aleph_embed.embedder.Clients`: one sync client, one async client per event loop), and their
serialisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from haystack import Document, default_from_dict, default_to_dict
from haystack.utils import Secret

from aleph_embed import ConfigurationError, EmbeddingSettings, TextEmbedder, Usage
from aleph_embed.config import NO_MODEL_MESSAGE, resolve_model
from aleph_embed.texts import Side

_Component = TypeVar("_Component", bound="AlephAlphaComponent")

DEFAULT_TOKEN = Secret.from_env_var("AA_TOKEN", strict=False)
"""The token of every component unless given: `AA_TOKEN`, saved as the variable's name (never its value)."""


class AlephAlphaComponent:
    """A component's connection (`model`, `host`, `token`, `concurrency`, `max_retries`, `timeout`) and its
    serialisation: `to_dict` / `from_dict` over `init_parameters()`.

    `host` defaults to `AA_HOST`, the token to the `AA_TOKEN` variable (a Haystack `Secret`: `to_dict` keeps the
    variable's name; a `Secret.from_token` cannot be saved at all). Construction makes no network call.
    """

    def __init__(
        self, *, model: str, host: str | None, token: Secret, concurrency: int, max_retries: int, timeout: float | None
    ) -> None:
        self.model = model
        self.host = host
        self.token = token
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = timeout

    def connection(self) -> dict[str, Any]:
        """The arguments of the core's connection (`aleph_embed.TextEmbedder`, `aleph_embed.embedder.Clients`)."""
        return {
            "host": self.host, "token": self.token.resolve_value(), "concurrency": self.concurrency,
            "max_retries": self.max_retries, "timeout": self.timeout,
        }

    def init_parameters(self) -> dict[str, Any]:
        """The constructor's arguments that rebuild this component (the host as given)."""
        return {"model": self.model, **self.connection(), "token": self.token}  # the Secret, not its value

    def to_dict(self) -> dict[str, Any]:
        """The component as a dictionary (what `Pipeline.dumps` saves)."""
        return default_to_dict(self, **self.init_parameters())

    @classmethod
    def from_dict(cls: type[_Component], data: dict[str, Any]) -> _Component:
        """The component of `to_dict`'s dictionary."""
        return default_from_dict(cls, data)


class AlephAlphaEmbedderComponent(AlephAlphaComponent):
    """An embedder's connection, embedding options and prefix / suffix.

    `model` defaults to `AA_MODEL` (saved resolved); `prefix` / `suffix` go around each text (an empty text stays
    empty); `options` are `aleph_embed.EmbeddingOptions` fields (endpoint, layer, pooling, normalize, instructions,
    long_text, ...), checked at construction.
    """

    side: ClassVar[Side]
    """Whether the component embeds documents or queries (each endpoint's request for that side)."""

    def __init__(
        self, *, model: str | None, host: str | None, token: Secret, prefix: str, suffix: str, concurrency: int,
        max_retries: int, timeout: float | None, options: dict[str, Any],
    ) -> None:
        resolved = resolve_model(model)
        if not resolved:
            raise ConfigurationError(NO_MODEL_MESSAGE.format(argument="model=..."))
        super().__init__(
            model=resolved, host=host, token=token, concurrency=concurrency, max_retries=max_retries, timeout=timeout
        )
        self.prefix = prefix
        self.suffix = suffix
        self.embedder = TextEmbedder(
            EmbeddingSettings(model=resolved, **options), query_prefix=prefix, document_prefix=prefix,
            **self.connection(),
        )

    def init_parameters(self) -> dict[str, Any]:
        return {
            **super().init_parameters(), "prefix": self.prefix, "suffix": self.suffix,
            **self.embedder.settings.model_dump(exclude={"model"}),
        }

    def _texts(self, texts: Sequence[str]) -> list[str]:
        return [f"{text}{self.suffix}" if text and self.suffix else text for text in texts]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text (prefix and suffix around it), many calls in flight, in input order."""
        return self.embedder.embed_texts(self._texts(texts), side=self.side)

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """Like `embed`, natively async."""
        return await self.embedder.aembed_texts(self._texts(texts), side=self.side)

    def meta(self, usage: Usage) -> dict[str, Any]:
        """A run's `meta` output, as Haystack's own embedders give it: the model and the tokens spent."""
        tokens = usage.prompt_tokens
        return {"model": self.model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def document_text(document: Document, meta_fields: Sequence[str], separator: str) -> str:
    """The text of `document` for a model: the values of `meta_fields` it has, then its content, joined by
    `separator` (as Haystack's own embedders and rankers build it)."""
    values = [str(document.meta[key]) for key in meta_fields if document.meta.get(key) is not None]
    return separator.join([*values, document.content or ""])
