"""aleph-embed: Aleph Alpha's `/embed` as a first-class embedding source for RAG."""

__version__ = "0.1.0"

from .client import AsyncEmbedClient, EmbedClient, Usage  # noqa: E402
from .errors import (  # noqa: E402
    AlephEmbedError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    BatchEmbedError,
    ConfigurationError,
    PayloadTooLargeError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    ServerBusyError,
    ServerError,
    TransportError,
    UnknownModelError,
)
from .models import (  # noqa: E402
    POOLINGS,
    EmbedRequest,
    EmbedResponse,
    Image,
    ImageControl,
    ModelInfo,
    Text,
    TextControl,
    TokenControl,
    TokenIds,
)
from .texts import EmbeddingSettings, EmptyTextError, TextEmbedError  # noqa: E402

__all__ = [
    "__version__",
    "AsyncEmbedClient",
    "EmbedClient",
    "Usage",
    "AlephEmbedError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "BatchEmbedError",
    "ConfigurationError",
    "PayloadTooLargeError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerBusyError",
    "ServerError",
    "TransportError",
    "UnknownModelError",
    "POOLINGS",
    "EmbedRequest",
    "EmbedResponse",
    "Image",
    "ImageControl",
    "ModelInfo",
    "Text",
    "TextControl",
    "TokenControl",
    "TokenIds",
    "EmbeddingSettings",
    "EmptyTextError",
    "TextEmbedError",
]
