"""Drop-ins for langchain-community's `AlephAlphaAsymmetricSemanticEmbedding` / `AlephAlphaSymmetricSemanticEmbedding`:
the same constructor arguments and defaults, the same `/semantic_embed` vectors, on the aleph_embed core."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import Field

from aleph_embed.config import ALEPH_ALPHA_API
from aleph_embed.adapter import rename_arguments
from aleph_embed.texts import Endpoint

from .embeddings import AlephAlphaEmbeddings

ENV_API_KEY = "ALEPH_ALPHA_API_KEY"
_RENAMED = {"aleph_alpha_api_key": "token", "request_timeout_seconds": "timeout", "total_retries": "max_retries"}


class AlephAlphaAsymmetricSemanticEmbedding(AlephAlphaEmbeddings):
    """`langchain_community.embeddings.AlephAlphaAsymmetricSemanticEmbedding`, changed import only: documents as the
    `document` representation (through `/batch_semantic_embed`, many calls in flight), queries as `query`.

    Takes its arguments (`model`, `aleph_alpha_api_key` (else `ALEPH_ALPHA_API_KEY`, then `AA_TOKEN`), `host` (else
    `AA_HOST`, then Aleph Alpha's API), `compress_to_size`, `normalize`, `contextual_control_threshold`,
    `control_log_additive`, `hosting`, `nice`, `request_timeout_seconds`, `total_retries`) with the same defaults,
    and every option of `AlephAlphaEmbeddings`. Unlike the original, `host` may be left out, and async is native.
    """

    fallback_host: ClassVar[str | None] = ALEPH_ALPHA_API
    fallback_model: ClassVar[str | None] = "luminous-base"

    endpoint: Endpoint = Field(default="semantic", description="The API endpoint (semantic, as the original).")
    normalize: bool = Field(default=False, description="L2-normalise the vector (off, as in the original).")
    max_retries: int = Field(default=8, ge=0, description="Retries of a transient failure per call (total_retries).")
    timeout: float | None = Field(default=305, gt=0, description="Seconds per call (request_timeout_seconds).")

    @classmethod
    def _translate(cls, data: dict[str, Any]) -> dict[str, Any]:
        data = rename_arguments(data, _RENAMED)
        if data.get("token") is None and os.environ.get(ENV_API_KEY):
            data["token"] = os.environ[ENV_API_KEY]
        return data


class AlephAlphaSymmetricSemanticEmbedding(AlephAlphaAsymmetricSemanticEmbedding):
    """`langchain_community.embeddings.AlephAlphaSymmetricSemanticEmbedding`, changed import only: documents and
    queries alike as the `symmetric` representation. Arguments as `AlephAlphaAsymmetricSemanticEmbedding`."""

    symmetric: bool = Field(default=True, description="Embed documents and queries alike (symmetric).")
