"""`ConnectionOptions`: where and how a pydantic framework adapter calls the API (host, token, limits, connection
pools), declared once for the embedding adapters (`adapter.EmbeddingAdapter`) and the rerankers
(`rerank_adapter.RerankAdapter`)."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .config import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, NO_HOST_MESSAGE, check_host, resolve_host, resolve_token

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
    def _connect_from_environment(cls, data: dict[str, Any]) -> dict[str, Any]:
        """`data` (the arguments, a copy) with `host` and `token` filled in; no host anywhere is a `ValueError`."""
        data["host"] = resolve_host(data.get("host")) or cls.fallback_host
        if not data["host"]:
            raise ValueError(NO_HOST_MESSAGE)
        check_host(str(data["host"]))
        if data.get("token") is None:
            data["token"] = resolve_token(None)
        return data

    def connection(self) -> dict[str, Any]:
        """These options as the keyword arguments of `Clients.create` and `TextEmbedder`."""
        return {name: getattr(self, name) for name in _CONNECTION}
