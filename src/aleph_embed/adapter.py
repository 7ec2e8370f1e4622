"""What the LangChain and LlamaIndex embeddings share: their options and how texts become vectors.

`EmbeddingAdapter` is a pydantic mixin with no framework in it. A framework class inherits from it and from the
framework's base, names its model field in `model_field`, and maps the framework's methods onto `embed_texts` /
`aembed_texts`, which go through its `TextEmbedder` (many calls in flight, input order kept). A framework whose
components are plain classes holds an `aleph_embed.TextEmbedder` instead.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from .config import DEFAULT_CHUNK_TOKENS, NO_MODEL_MESSAGE, resolve_model
from .chunking import Chunker
from .client import AsyncEmbedClient, EmbedClient
from .connection import ConnectionOptions
from .embedder import TextEmbedder
from .texts import EmbeddingOptions, EmbeddingSettings, EndpointChoice, Side

_Adapter = TypeVar("_Adapter", bound="EmbeddingAdapter")
_SHARED_ON_COPY = frozenset({"http_client", "http_async_client"})
_SETTINGS_OPTIONS = tuple(EmbeddingOptions.model_fields)


class EmbeddingAdapter(ConnectionOptions, EmbeddingOptions):
    """Options of an Aleph Alpha `/embed` embedding for a framework, and its sync and native async embedding.

    `host`, `token` and the model default to `AA_HOST`, `AA_TOKEN` and `AA_MODEL`; a missing host or model is an
    error at construction, which makes no network call. `layer`, `pooling`, `normalize`, `hosting`, `nice`,
    `control_log_additive` and `contextual_control_threshold` are the `/embed` request fields (see
    `aleph_embed.EmbeddingSettings`). `query_prefix` / `document_prefix` are put in front of queries / documents.
    `empty_text` decides what an empty text does: `"error"` (default; the API rejects empty prompts), `"placeholder"`
    (embeds `placeholder` instead) or `"skip"` (no call; a zero vector that matches nothing). `long_text` decides what
    a text longer than the model's context does: `"error"` (default) raises `aleph_embed.TextEmbedError` naming the
    text's index and start, `"truncate"` embeds the start that fits, `"average"` the token-weighted mean of its
    chunks. `chunker()` / `count_tokens()` size texts with the model's own tokenizer from the host.
    `concurrency` bounds the calls in flight, `max_retries` / `timeout` (seconds) tune each call; `http_client` /
    `http_async_client` replace the clients' own connection pools. The `embedder` (a `TextEmbedder`) and its core
    clients are built from the options on first use and reused (the async client per event loop).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    model_field: ClassVar[str] = "model"
    """The name of the framework's field that holds the model name."""
    fallback_model: ClassVar[str | None] = None
    """The model when neither the argument nor AA_MODEL names one."""

    endpoint: EndpointChoice = Field(
        default="auto", description="The API endpoint (default `auto`: the one the model is meant for, see "
        "`EmbeddingOptions.endpoint`)."
    )
    query_prefix: str = Field(default="", description="Put in front of every query (for asymmetric models).")
    document_prefix: str = Field(default="", description="Put in front of every document (for asymmetric models).")

    _embedder: TextEmbedder | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = cls._translate(dict(data))
        data[cls.model_field] = resolve_model(data.get(cls.model_field)) or cls.fallback_model
        data = cls._connect_from_environment(data, model_field=cls.model_field)  # no host: the shared server's model
        if not data[cls.model_field]:
            raise ValueError(NO_MODEL_MESSAGE.format(argument=f"{cls.model_field}=..."))
        return data

    @classmethod
    def _translate(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The arguments of the class this one replaces, in this class's terms (a drop-in overrides it)."""
        return data

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle the options only: the unpickled copy builds its own core clients (as a deep copy does)."""
        return {**BaseModel.__getstate__(self), "__pydantic_private__": None}

    def __setstate__(self, state: dict[Any, Any]) -> None:
        BaseModel.__setstate__(self, state)
        fresh = {name: attr.get_default(call_default_factory=True) for name, attr in self.__private_attributes__.items()}
        object.__setattr__(self, "__pydantic_private__", fresh)

    def __deepcopy__(self: _Adapter, memo: dict[int, Any] | None = None) -> _Adapter:
        """Options copied deeply (connection pools passed in are shared); the copy builds its own core clients."""
        fields = {
            name: value if name in _SHARED_ON_COPY else copy.deepcopy(value, memo)
            for name, value in self.__dict__.items()
        }
        return self.model_construct(_fields_set=set(self.model_fields_set), **fields)

    @property
    def embedding_settings(self) -> EmbeddingSettings:
        """The core settings these options stand for."""
        options = {name: getattr(self, name) for name in _SETTINGS_OPTIONS}
        return EmbeddingSettings(model=getattr(self, self.model_field), **options)

    @property
    def embedder(self) -> TextEmbedder:
        """The `TextEmbedder` of these options (its core clients built on first use and reused)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = TextEmbedder(self.embedding_settings, **self.connection())
            embedder = self._embedder
        return embedder.replace(
            settings=self.embedding_settings, query_prefix=self.query_prefix, document_prefix=self.document_prefix
        )

    @property
    def client(self) -> EmbedClient:
        """The synchronous core client, built on first use and reused."""
        return self.embedder.client

    @property
    def async_client(self) -> AsyncEmbedClient:
        """The async core client of the running event loop (a connection pool cannot outlive its loop)."""
        return self.embedder.async_client

    def chunker(self, max_tokens: int = DEFAULT_CHUNK_TOKENS, overlap: int | None = None) -> Chunker:
        """An `aleph_embed.Chunker` for this model (see `TextEmbedder.chunker`)."""
        return self.embedder.chunker(max_tokens, overlap)

    def count_tokens(self, text: str) -> int:
        """The tokens of `text` as the model counts them (see `TextEmbedder.count_tokens`): a length function for
        the frameworks' text splitters."""
        return self.embedder.count_tokens(text)

    def embed_texts(self, texts: Sequence[str], side: Side = "document") -> list[list[float]]:
        """One vector per text as a document or a query (see `TextEmbedder.embed_texts`)."""
        return self.embedder.embed_texts(texts, side)

    async def aembed_texts(self, texts: Sequence[str], side: Side = "document") -> list[list[float]]:
        """Like `embed_texts`, natively async."""
        return await self.embedder.aembed_texts(texts, side)


def rename_arguments(data: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """`data` with the old argument names of a replaced class under this one's (both given: an error)."""
    for old, new in names.items():
        if old in data and data[old] is None:
            del data[old]
        elif old in data:
            if data.get(new) is not None:
                raise ValueError(f"{old} and {new} name the same setting: pass one of them")
            data[new] = data.pop(old)
    return data
