"""aleph-embed: Aleph Alpha's `/embed` as a first-class embedding source for RAG.

The names below load with the first use of each (PEP 562): `import aleph_embed` alone imports neither httpx nor
pydantic, so the `aleph-embed` command starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .lazy import lazy_names

if TYPE_CHECKING:
    from .chunking import Chunk, Chunker, EmbeddedChunk
    from .client import AsyncEmbedClient, EmbedClient, Usage
    from .embedder import TextEmbedder
    from .errors import (
        AlephEmbedError,
        APIStatusError,
        AuthenticationError,
        BadRequestError,
        BatchEmbedError,
        ConfigurationError,
        EmptyTextError,
        InvalidResponseError,
        MissingExtraError,
        PayloadTooLargeError,
        QuotaExceededError,
        RateLimitError,
        RequestTimeoutError,
        ResponseTooLargeError,
        ServerBusyError,
        ServerError,
        ServerStartError,
        TextEmbedError,
        TransportError,
        UnknownModelError,
    )
    from .models import (
        MAX_BATCH_PROMPTS,
        MAX_RERANK_DOCUMENTS,
        POOLINGS,
        BatchSemanticEmbedRequest,
        BatchSemanticEmbedResponse,
        DetokenizeRequest,
        DetokenizeResponse,
        EmbedRequest,
        EmbeddingsRequest,
        EmbeddingsResponse,
        EmbedResponse,
        Image,
        ImageControl,
        InstructableEmbedRequest,
        InstructableEmbedResponse,
        ModelInfo,
        RerankRequest,
        RerankResponse,
        SemanticEmbedRequest,
        SemanticEmbedResponse,
        Text,
        TextControl,
        TokenControl,
        TokenIds,
        TokenizeRequest,
        TokenizeResponse,
    )
    from .texts import EmbeddingOptions, EmbeddingSettings
    from .transport import metered

_MODULES = {
    ".chunking": ("Chunk", "Chunker", "EmbeddedChunk"),
    ".client": ("AsyncEmbedClient", "EmbedClient", "Usage"),
    ".embedder": ("TextEmbedder",),
    ".errors": (
        "AlephEmbedError", "APIStatusError", "AuthenticationError", "BadRequestError", "BatchEmbedError",
        "ConfigurationError", "EmptyTextError", "InvalidResponseError", "MissingExtraError", "PayloadTooLargeError",
        "QuotaExceededError", "RateLimitError", "RequestTimeoutError", "ResponseTooLargeError", "ServerBusyError",
        "ServerError", "ServerStartError", "TextEmbedError", "TransportError", "UnknownModelError",
    ),
    ".models": (
        "MAX_BATCH_PROMPTS", "MAX_RERANK_DOCUMENTS", "POOLINGS", "BatchSemanticEmbedRequest",
        "BatchSemanticEmbedResponse", "DetokenizeRequest", "DetokenizeResponse", "EmbedRequest",
        "EmbeddingsRequest", "EmbeddingsResponse", "EmbedResponse", "Image", "ImageControl",
        "InstructableEmbedRequest", "InstructableEmbedResponse", "ModelInfo", "RerankRequest", "RerankResponse",
        "SemanticEmbedRequest", "SemanticEmbedResponse", "Text", "TextControl", "TokenControl", "TokenIds",
        "TokenizeRequest", "TokenizeResponse",
    ),
    ".texts": ("EmbeddingOptions", "EmbeddingSettings"),
    ".transport": ("metered",),
}
"""The module of each public name."""
__getattr__, __dir__ = lazy_names(__name__, _MODULES, globals())


__all__ = [
    "__version__",
    "AsyncEmbedClient",
    "Chunk",
    "Chunker",
    "EmbeddedChunk",
    "EmbedClient",
    "TextEmbedder",
    "Usage",
    "metered",
    "AlephEmbedError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "BatchEmbedError",
    "ConfigurationError",
    "MissingExtraError",
    "ServerStartError",
    "PayloadTooLargeError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "ServerBusyError",
    "ServerError",
    "InvalidResponseError",
    "TransportError",
    "UnknownModelError",
    "POOLINGS",
    "EmbedRequest",
    "EmbedResponse",
    "MAX_BATCH_PROMPTS",
    "SemanticEmbedRequest",
    "SemanticEmbedResponse",
    "BatchSemanticEmbedRequest",
    "BatchSemanticEmbedResponse",
    "InstructableEmbedRequest",
    "InstructableEmbedResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "Image",
    "ImageControl",
    "ModelInfo",
    "MAX_RERANK_DOCUMENTS",
    "RerankRequest",
    "RerankResponse",
    "Text",
    "TextControl",
    "TokenControl",
    "TokenIds",
    "EmbeddingOptions",
    "TokenizeRequest",
    "TokenizeResponse",
    "DetokenizeRequest",
    "DetokenizeResponse",
    "EmbeddingSettings",
    "EmptyTextError",
    "TextEmbedError",
]
