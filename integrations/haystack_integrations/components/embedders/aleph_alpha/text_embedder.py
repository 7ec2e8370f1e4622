"""`AlephAlphaTextEmbedder`: a Haystack component that embeds a query string."""

from __future__ import annotations

from typing import Any

from haystack import component
from haystack.utils import Secret

from aleph_embed import metered
from aleph_embed.config import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES
from haystack_integrations.common.aleph_alpha import DEFAULT_TOKEN, AlephAlphaEmbedderComponent


@component
class AlephAlphaTextEmbedder(AlephAlphaEmbedderComponent):
    """Embeds a string as a query with Aleph Alpha's embedding endpoints (a query pipeline's first step).

    ```python
    from haystack_integrations.components.embedders.aleph_alpha import AlephAlphaTextEmbedder

    embedder = AlephAlphaTextEmbedder(model="luminous-base", host="https://api.aleph-alpha.com")  # token: AA_TOKEN
    print(embedder.run("Where is the Eiffel Tower?")["embedding"][:4])
    ```

    `model` / `host` default to `AA_MODEL` / `AA_HOST`, `token` to the `AA_TOKEN` variable (never saved); `prefix` /
    `suffix` go around the text; `options` are every `aleph_embed.EmbeddingOptions` field (`endpoint`, `layer`,
    `pooling`, `normalize`, `query_instruction`, `long_text`, ...). The document side must use the same model and
    options (`AlephAlphaDocumentEmbedder`).
    """

    side = "query"

    def __init__(  # noqa: PLR0913
        self,
        model: str | None = None,
        host: str | None = None,
        token: Secret = DEFAULT_TOKEN,
        prefix: str = "",
        suffix: str = "",
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | None = None,
        **options: Any,
    ) -> None:
        AlephAlphaEmbedderComponent.__init__(  # the decorator rebuilds the class: no zero-argument super()
            self,
            model=model, host=host, token=token, prefix=prefix, suffix=suffix, concurrency=concurrency,
            max_retries=max_retries, timeout=timeout, options=options,
        )

    @staticmethod
    def _check(text: Any) -> None:
        if not isinstance(text, str):
            raise TypeError(
                "AlephAlphaTextEmbedder embeds one string; embed a list of Documents with AlephAlphaDocumentEmbedder"
            )

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """Embed `text` as a query: `embedding` (its vector) and `meta` (model, usage)."""
        self._check(text)
        with metered() as usage:
            [embedding] = self.embed([text])
        return {"embedding": embedding, "meta": self.meta(usage)}

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        """Like `run`, natively async."""
        self._check(text)
        with metered() as usage:
            [embedding] = await self.aembed([text])
        return {"embedding": embedding, "meta": self.meta(usage)}
