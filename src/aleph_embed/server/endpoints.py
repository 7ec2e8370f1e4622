"""The semantic endpoints of the local server: `/semantic_embed`, `/batch_semantic_embed`, `/instructable_embed` and
`/embeddings`, on top of the `/embed` engine.

A model's semantic vector is the L2-normalised mean of its last layer (what sentence-transformers models such as
all-MiniLM-L6-v2 are trained for); the model's `ModelSpec` adds its query/document prefixes, instruction template,
128-dimensional projection and whether vectors may be shortened. The prompts of one call run as one group: one
padded forward pass (up to `MAX_BATCH_PROMPTS` prompts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import ConfigDict

from ..models import (
    MAX_BATCH_PROMPTS,
    BatchSemanticEmbedRequest,
    BatchSemanticEmbedResponse,
    ControlledRequest,
    EmbeddingsData,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbeddingsUsage,
    EmbedRequest,
    InstructableEmbedRequest,
    InstructableEmbedResponse,
    Prompt,
    SemanticEmbedRequest,
    SemanticEmbedResponse,
    Text,
    TokenIds,
    encode_base64_floats,
)
from .config import ModelSpec
from .engine import EmbedAnswer, Job, ModelEngine
from .errors import ModelLoadError, ServerError

MAX_EMBEDDINGS_INPUTS = 2048
"""The most inputs one `/embeddings` call takes (OpenAI's limit); they run in groups of `MAX_BATCH_PROMPTS`."""
_STRICT = ConfigDict(extra="forbid")


class SemanticAnswer(SemanticEmbedResponse):
    """The server's `/semantic_embed` answer: the client's model, refusing any field it lacks."""

    model_config = _STRICT


class BatchSemanticAnswer(BatchSemanticEmbedResponse):
    """The server's `/batch_semantic_embed` answer: the client's model, refusing any field it lacks."""

    model_config = _STRICT


class InstructableAnswer(InstructableEmbedResponse):
    """The server's `/instructable_embed` answer: the client's model, refusing any field it lacks."""

    model_config = _STRICT


class EmbeddingsAnswer(EmbeddingsResponse):
    """The server's `/embeddings` answer: the client's model, refusing any field it lacks."""

    model_config = _STRICT


@dataclass(frozen=True)
class JobGroup:
    """The prompts of one call, run together in one forward pass."""

    jobs: list[Job]

    @property
    def num_tokens(self) -> int:
        """Padded tokens of the group (what the batcher weighs)."""
        return max(job.num_tokens for job in self.jobs) * len(self.jobs)


def run_jobs(
    engine: ModelEngine, items: Sequence[Job | JobGroup]
) -> list[EmbedAnswer | list[EmbedAnswer] | ServerError]:
    """One forward pass for a batch of jobs and groups; one answer per job, a list of answers per group (or the
    error of that job or of the group's first failing job)."""
    flat = [job for item in items for job in (item.jobs if isinstance(item, JobGroup) else [item])]
    answers = iter(engine.run(flat))
    results: list[EmbedAnswer | list[EmbedAnswer] | ServerError] = []
    for item in items:
        if not isinstance(item, JobGroup):
            results.append(next(answers))
            continue
        group = [next(answers) for _ in item.jobs]
        failed = [answer for answer in group if isinstance(answer, ServerError)]
        results.append(failed[0] if failed else [answer for answer in group if not isinstance(answer, ServerError)])
    return results


class SemanticModel:
    """One served model's semantic vectors: its prompts as `/embed` jobs, and the vectors from their answers."""

    def __init__(self, engine: ModelEngine, spec: ModelSpec) -> None:
        self.engine = engine
        self.spec = spec
        self.projection = _load_projection(spec, engine) if spec.projection else None

    def jobs(self, request: ControlledRequest, prompts: Sequence[Prompt], before: str = "", after: str = "") -> JobGroup:
        """The jobs of `prompts` with `before` / `after` around each (raises ServerError)."""
        return JobGroup([
            self.engine.prepare(EmbedRequest(
                model=request.model, prompt=_around(prompt, before, after), layers=[-1], pooling=["mean"],
                normalize=True, control_log_additive=request.control_log_additive,
                contextual_control_threshold=request.contextual_control_threshold,
            ))
            for prompt in prompts
        ])

    def semantic_prefix(self, representation: str) -> str:
        return {"query": self.spec.query_prefix, "document": self.spec.document_prefix}.get(representation, "")

    def instruction_parts(self, instruction: str) -> tuple[str, str]:
        before, after = self.spec.instruction_template.split("{input}")
        return before.format(instruction=instruction), after.format(instruction=instruction)

    def check_compression(self, compress_to_size: int | None) -> None:
        if compress_to_size is not None and self.projection is None:
            raise ServerError(
                f"compress_to_size {compress_to_size}: {self.engine.name!r} has no such projection here; leave "
                f"compress_to_size out for its full {self.engine.model.config.hidden_size}-dimensional vectors"
                + (", or use /embeddings with dimensions" if self.spec.matryoshka else "")
            )

    def check_dimensions(self, dimensions: int | None) -> None:
        size = self.engine.model.config.hidden_size
        if dimensions is None or dimensions == size:
            return
        if not self.spec.matryoshka:
            raise ServerError(
                f"dimensions {dimensions}: {self.engine.name!r} does not support shortened vectors; leave dimensions "
                f"out for its {size}-dimensional vectors"
            )
        if dimensions > size:
            raise ServerError(f"dimensions {dimensions}: {self.engine.name!r} has {size} dimensions at most")

    def vectors(
        self, answers: Sequence[EmbedAnswer], *, normalize: bool, compress: bool = False, dimensions: int | None = None
    ) -> list[list[float]]:
        """The semantic vectors of the answers: projected, shortened and normalised as asked."""
        vectors = torch.tensor([answer.vector(-1, "mean") for answer in answers])
        if compress and self.projection is not None:
            vectors = vectors @ self.projection
        if dimensions is not None:
            vectors = vectors[:, :dimensions]
        if normalize or dimensions is not None:
            vectors = F.normalize(vectors, dim=-1)
        return list(vectors.tolist())


def _around(prompt: Prompt, before: str, after: str) -> Prompt:
    if isinstance(prompt, str):
        return before + prompt + after
    return [*([Text(before)] if before else []), *prompt, *([Text(after)] if after else [])]


def _load_projection(spec: ModelSpec, engine: ModelEngine) -> torch.Tensor:
    matrix = torch.load(str(spec.projection), weights_only=True).float()
    hidden = engine.model.config.hidden_size
    if matrix.shape == (128, hidden):
        matrix = matrix.T
    if matrix.shape != (hidden, 128):
        raise ModelLoadError(f"projection {spec.projection}: expected a [{hidden}, 128] matrix, got {list(matrix.shape)}")
    return matrix


Submit = Any  # async (model name, Job | JobGroup, nice) -> answer(s)
OffLoop = Callable[..., Awaitable[Any]]  # async (work, *args) -> work(*args), run in the server's prepare pool


class SemanticEndpoints:
    """The answers of the semantic endpoints, computed through `submit` (the server's batcher); tokenizing runs
    through `off_loop` (the bounded prepare pool), never on the event loop."""

    def __init__(
        self, engines: Mapping[str, ModelEngine], specs: Mapping[str, ModelSpec], submit: Submit, off_loop: OffLoop
    ) -> None:
        self.models = {name: SemanticModel(engine, specs.get(name) or ModelSpec(path="")) for name, engine in engines.items()}
        self.submit = submit
        self.off_loop = off_loop

    async def _run(self, model: SemanticModel, group: JobGroup, nice: bool) -> list[EmbedAnswer]:
        answers: list[EmbedAnswer] = await self.submit(model.engine.name, group, nice)
        return answers

    async def semantic(self, model: SemanticModel, body: SemanticEmbedRequest, nice: bool) -> SemanticAnswer:
        model.check_compression(body.compress_to_size)
        group = await self.off_loop(model.jobs, body, [body.prompt], model.semantic_prefix(body.representation))
        answers = await self._run(model, group, nice)
        (vector,) = model.vectors(answers, normalize=body.normalize, compress=body.compress_to_size is not None)
        return SemanticAnswer(model_version=answers[0].model_version, embedding=vector,
                              num_tokens_prompt_total=group.jobs[0].num_tokens)

    async def batch_semantic(self, model: SemanticModel, body: BatchSemanticEmbedRequest, nice: bool) -> BatchSemanticAnswer:
        model.check_compression(body.compress_to_size)
        group = await self.off_loop(model.jobs, body, body.prompts, model.semantic_prefix(body.representation))
        answers = await self._run(model, group, nice)
        return BatchSemanticAnswer(
            model_version=answers[0].model_version,
            embeddings=model.vectors(answers, normalize=body.normalize, compress=body.compress_to_size is not None),
            num_tokens_prompt_total=sum(job.num_tokens for job in group.jobs),
        )

    async def instructable(self, model: SemanticModel, body: InstructableEmbedRequest, nice: bool) -> InstructableAnswer:
        group = await self.off_loop(model.jobs, body, [body.input], *model.instruction_parts(body.instruction))
        answers = await self._run(model, group, nice)
        (vector,) = model.vectors(answers, normalize=body.normalize)
        return InstructableAnswer(model_version=answers[0].model_version, embedding=vector,
                                  num_tokens_prompt_total=group.jobs[0].num_tokens)

    async def embeddings(self, model: SemanticModel, body: EmbeddingsRequest, nice: bool) -> EmbeddingsAnswer:
        prompts = _embeddings_prompts(body)
        model.check_dimensions(body.dimensions)
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(prompts), MAX_BATCH_PROMPTS):
            chunk = prompts[start : start + MAX_BATCH_PROMPTS]
            group = await self.off_loop(model.jobs, ControlledRequest(model=body.model), chunk)
            vectors += model.vectors(await self._run(model, group, nice), normalize=True, dimensions=body.dimensions)
            tokens += sum(job.num_tokens for job in group.jobs)
        encode = body.encoding_format == "base64"
        return EmbeddingsAnswer(
            data=[EmbeddingsData(embedding=encode_base64_floats(v) if encode else v, index=i) for i, v in enumerate(vectors)],
            model=body.model, usage=EmbeddingsUsage(prompt_tokens=tokens, total_tokens=tokens),
        )


def _embeddings_prompts(body: EmbeddingsRequest) -> list[Prompt]:
    value = body.input
    if isinstance(value, str):
        return [value]
    if isinstance(value[0], int):
        return [[TokenIds(list(value))]]
    return [item if isinstance(item, str) else [TokenIds(list(item))] for item in value]

