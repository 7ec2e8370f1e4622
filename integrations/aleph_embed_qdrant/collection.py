"""The collection an ingest writes to: which vectors, how to create it, and whether an existing one fits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import models

from aleph_embed import ConfigurationError, EmbeddingSettings, EmbedResponse
from aleph_embed.models import Pooling


class CollectionMismatchError(ConfigurationError):
    """An existing collection's vectors do not fit what this ingest produces."""


@dataclass(frozen=True)
class VectorSpec:
    """Which output of `/embed` a stored vector is: the layer (negative counts from the end) and the pooling."""

    layer: int
    pooling: Pooling


@dataclass(frozen=True)
class CollectionOptions:
    """How a missing collection is created (an existing one is used as it is).

    `distance` None picks Dot for normalised vectors (same ranking as Cosine, cheaper) and Cosine otherwise.
    `payload_indexes` maps payload fields (e.g. `metadata.source`) to their schema.
    """

    distance: models.Distance | None = None
    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None
    on_disk: bool | None = None
    on_disk_payload: bool | None = None
    hnsw_config: models.HnswConfigDiff | None = None
    quantization_config: models.QuantizationConfig | None = None
    payload_indexes: Mapping[str, models.PayloadSchemaType] = field(default_factory=dict)


class VectorPlan:
    """The vectors of each point: one unnamed vector from the settings, or named vectors from ONE /embed call."""

    def __init__(
        self, settings: EmbeddingSettings, named: Mapping[str, VectorSpec] | None, options: CollectionOptions
    ) -> None:
        if named is not None and not named:
            raise ConfigurationError("named vectors: give at least one name, or None for a single unnamed vector")
        if named and "" in named:
            raise ConfigurationError("named vectors: a name must not be empty")
        self.settings = settings
        self.named = dict(named) if named else None
        self.options = options
        self.distance = options.distance or (models.Distance.DOT if settings.normalize else models.Distance.COSINE)

    @property
    def specs(self) -> Sequence[VectorSpec]:
        return list(self.named.values()) if self.named else [VectorSpec(self.settings.layer, self.settings.pooling)]

    def describe(self) -> dict[str, Any]:
        """What the vectors depend on; part of every document's content hash."""
        return {
            "settings": self.settings.model_dump(mode="json", exclude={"nice", "hosting", "empty_text"}),
            "vectors": {name: [spec.layer, spec.pooling] for name, spec in (self.named or {"": self.specs[0]}).items()},
        }

    def request_extras(self) -> dict[str, Any]:
        specs = self.specs
        return {"layers": [s.layer for s in specs], "pooling": [s.pooling for s in specs]}

    def vectors(self, response: EmbedResponse) -> tuple[models.VectorStruct, int]:
        """The point's vector (struct) from one response, and the vector size."""
        if self.named is None:
            vector = self.settings.vector(response)
            return vector, len(vector)
        named: dict[str, models.Vector] = {
            name: response.vector(spec.layer, spec.pooling) for name, spec in self.named.items()
        }
        return named, len(next(iter(named.values())))  # type: ignore[arg-type]

    def vectors_config(self, size: int) -> models.VectorParams | dict[str, models.VectorParams]:
        params = models.VectorParams(size=size, distance=self.distance, on_disk=self.options.on_disk)
        return params if self.named is None else {name: params for name in self.named}

    def create_arguments(self, size: int) -> dict[str, Any]:
        """Keyword arguments of `create_collection`."""
        options = self.options
        return {
            "vectors_config": self.vectors_config(size),
            "shard_number": options.shard_number,
            "replication_factor": options.replication_factor,
            "write_consistency_factor": options.write_consistency_factor,
            "on_disk_payload": options.on_disk_payload,
            "hnsw_config": options.hnsw_config,
            "quantization_config": options.quantization_config,
        }

    def check(self, collection: str, info: models.CollectionInfo, size: int) -> None:
        """Raise `CollectionMismatchError` saying what to change when the collection cannot take these vectors."""
        existing = info.config.params.vectors
        if self.named is None:
            if not isinstance(existing, models.VectorParams):
                raise CollectionMismatchError(
                    f"collection {collection!r} has named vectors {sorted(existing or {})}, this ingest writes one "
                    "unnamed vector: pass the same named vectors (CLI: --vector NAME=LAYER:POOLING) or another collection"
                )
            self._check_params(collection, "the vector", existing, size)
            return
        if not isinstance(existing, dict):
            raise CollectionMismatchError(
                f"collection {collection!r} has one unnamed vector, this ingest writes named vectors "
                f"{sorted(self.named)}: drop the named vectors or use another collection"
            )
        missing = sorted(set(self.named) - set(existing))
        if missing:
            raise CollectionMismatchError(
                f"collection {collection!r} has no vectors named {missing} (it has {sorted(existing)}); "
                "use its names or another collection"
            )
        for name in self.named:
            self._check_params(collection, f"vector {name!r}", existing[name], size)

    def _check_params(self, collection: str, what: str, params: models.VectorParams, size: int) -> None:
        if params.size != size:
            raise CollectionMismatchError(
                f"collection {collection!r}: {what} has size {params.size}, but model {self.settings.model!r} gives "
                f"{size}: use another collection (or delete this one) or the model it was built with"
            )
        accepted = {self.distance}
        if self.options.distance is None and self.settings.normalize:
            accepted.add(models.Distance.COSINE)  # same ranking as Dot on unit vectors
        if params.distance not in accepted:
            raise CollectionMismatchError(
                f"collection {collection!r}: {what} uses {params.distance.value} distance, which does not fit "
                f"{'normalised' if self.settings.normalize else 'unnormalised'} vectors (expected "
                f"{' or '.join(sorted(d.value for d in accepted))}); use another collection"
            )
