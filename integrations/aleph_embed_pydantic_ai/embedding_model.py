"""`AlephAlphaEmbeddingModel`: a Pydantic AI `EmbeddingModel`, a thin holder of an `aleph_embed.TextEmbedder`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_ai.embeddings import EmbeddingModel, EmbeddingResult
from pydantic_ai.embeddings import EmbeddingSettings as PydanticAIEmbeddingSettings
from pydantic_ai.embeddings.result import EmbedInputType
from pydantic_ai.models import check_allow_model_requests
from pydantic_ai.usage import RequestUsage

from aleph_embed import ConfigurationError, EmbeddingSettings, TextEmbedder, metered
from aleph_embed.config import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, NO_MODEL_MESSAGE, resolve_model


@dataclass(init=False)
class AlephAlphaEmbeddingModel(EmbeddingModel):
    """Aleph Alpha embeddings for `pydantic_ai.Embedder`: queries and documents each through their own request (the
    endpoint's `query` / `document` representation or instruction, their prefixes), many calls in flight.

    ```python
    from pydantic_ai import Embedder
    from aleph_embed_pydantic_ai import AlephAlphaEmbeddingModel

    embedder = Embedder(AlephAlphaEmbeddingModel("luminous-base", host="https://api.aleph-alpha.com"))  # AA_TOKEN
    result = await embedder.embed_query("What is AI?")
    ```

    `model`, `host` and `token` default to `AA_MODEL`, `AA_HOST` and `AA_TOKEN`; `options` are every
    `aleph_embed.EmbeddingOptions` field (`endpoint`, `layer`, `pooling`, `normalize`, instructions, `long_text`,
    ...), checked at construction, which makes no network call. Of Pydantic AI's settings, `truncate` (True: a text
    over the context is embedded from its start; False: an error) and `dimensions` (the `openai` endpoint's) apply.
    `usage.input_tokens` is the call's prompt tokens as the host counts them.
    """

    _model_name: str
    _embedder: TextEmbedder = field(repr=False)

    def __init__(  # noqa: PLR0913
        self,
        model: str | None = None,
        *,
        host: str | None = None,
        token: str | SecretStr | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        settings: PydanticAIEmbeddingSettings | None = None,
        **options: Any,
    ) -> None:
        resolved = resolve_model(model)
        if not resolved:
            raise ConfigurationError(NO_MODEL_MESSAGE.format(argument="model"))
        self._model_name = resolved
        self._embedder = TextEmbedder(
            EmbeddingSettings(model=resolved, **options), host=host, token=token, query_prefix=query_prefix,
            document_prefix=document_prefix, concurrency=concurrency, max_retries=max_retries, timeout=timeout,
            http_client=http_client, http_async_client=http_async_client,
        )
        super().__init__(settings=settings)

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def system(self) -> str:
        return "aleph-alpha"

    @property
    def base_url(self) -> str:
        return self._embedder.host

    @property
    def embedder(self) -> TextEmbedder:
        """The `aleph_embed.TextEmbedder` behind this model."""
        return self._embedder

    def _embedder_for(self, settings: PydanticAIEmbeddingSettings) -> TextEmbedder:
        """This model's embedder with a call's `truncate` / `dimensions` applied (validated: an option of another
        endpoint is an error naming it)."""
        update: dict[str, Any] = {}
        if "truncate" in settings:
            update["long_text"] = "truncate" if settings["truncate"] else "error"
        if "dimensions" in settings:
            update["dimensions"] = settings["dimensions"]
        if not update:
            return self._embedder
        current = self._embedder.settings
        return self._embedder.replace(settings=EmbeddingSettings.model_validate({**current.model_dump(), **update}))

    async def embed(
        self, inputs: str | Sequence[str], *, input_type: EmbedInputType,
        settings: PydanticAIEmbeddingSettings | None = None,
    ) -> EmbeddingResult:
        check_allow_model_requests()
        texts, merged = self.prepare_embed(inputs, settings)
        embedder = self._embedder_for(merged)
        with metered() as usage:
            vectors = await embedder.aembed_texts(texts, side=input_type)
        return EmbeddingResult(
            vectors, inputs=texts, input_type=input_type, model_name=self.model_name, provider_name=self.system,
            usage=RequestUsage(input_tokens=usage.prompt_tokens),
        )

    async def max_input_tokens(self) -> int | None:
        """The model's context in tokens (from the host, then kept)."""
        check_allow_model_requests()
        return await self._embedder.async_client.context_size(self.model_name)

    async def count_tokens(self, text: str) -> int:
        """The tokens of `text` as the model counts them (special tokens included; its tokenizer from the host)."""
        check_allow_model_requests()
        return await asyncio.to_thread(self._embedder.count_tokens, text)
