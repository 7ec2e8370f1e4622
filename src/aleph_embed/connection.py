"""`ConnectionOptions`: where and how a pydantic framework adapter calls the API (host, token, limits, connection
pools), declared once for the embedding adapters (`adapter.EmbeddingAdapter`) and the rerankers
(`rerank_adapter.RerankAdapter`)."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .config import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, check_host, resolve_host, resolve_token
from .shared_host import shared_endpoint

_CONNECTION = ("host", "token", "concurrency", "max_retries", "timeout", "http_client", "http_async_client")


class ConnectionOptions(BaseModel):
    """`host` and `token` default to `AA_HOST` and `AA_TOKEN` (`_connect_from_environment`); `concurrency` bounds
    the calls in flight, `max_retries` / `timeout` (seconds) tune each call; `http_client` / `http_async_client`
    replace the clients' own connection pools."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    fallback_host: ClassVar[str | None] = None
    """The host when neither the argument nor AA_HOST names one (a drop-in keeps its predecessor's default)."""

    host: str = Field(description="Base URL of the API (default: AA_HOST).")
    token: SecretStr | None = Field(default=None, exclude=True, description="API token (default: AA_TOKEN); never dumped.")
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, description="Calls in flight.")
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0, description="Retries of a transient failure per call.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per call (default: the client's).")
    http_client: httpx.Client | None = Field(
        default=None, exclude=True, repr=False, description="An httpx.Client to use instead of the core's own pools."
    )
    http_async_client: httpx.AsyncClient | None = Field(
        default=None, exclude=True, repr=False, description="An httpx.AsyncClient to use instead of the core's own."
    )

    @classmethod
    def _connect_from_environment(cls, data: dict[str, Any], model_field: str | None = None) -> dict[str, Any]:
        """`data` (the arguments, a copy) with `host` and `token` filled in: with no host anywhere, the CLI's shared
        local server's (and its model in `model_field` when that is empty); `ValueError` where there is none."""
        if data.get("token") is None:
            data["token"] = resolve_token(None)
        # A drop-in's default host (the API) needs a token; without one, the shared local server is used instead.
        data["host"] = resolve_host(data.get("host")) or (cls.fallback_host if data["token"] else None)
        if not data["host"]:
            data["host"], data["token"], served = shared_endpoint()  # ConfigurationError: a ValueError
            if model_field is not None and not data.get(model_field):
                data[model_field] = served
        check_host(str(data["host"]))
        return data

    def connection(self) -> dict[str, Any]:
        """These options as the keyword arguments of `Clients.create` and `TextEmbedder`."""
        return {name: getattr(self, name) for name in _CONNECTION}
