"""The collection an ingest writes to: which vectors, how to create it, whether an existing one fits, and the
settings recorded on it (`recorded_settings`), so that searches embed queries as its documents were embedded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError
from qdrant_client import QdrantClient, models

from aleph_embed import ConfigurationError, EmbeddingSettings
from aleph_embed.ingest.bm25 import BM25, BM25Settings
from aleph_embed.ingest.vectors import SPARSE_NAME, VectorSpec
from aleph_embed.ingest.vectors import VectorPlan as CoreVectorPlan
from aleph_embed.models import Pooling

from ._calls import qdrant_call
from .errors import CollectionMismatchError
from .layout import Layout

SETTINGS_KEY = "aleph_embed"
"""The key of the collection metadata that holds the `RecordedSettings`."""
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class CollectionOptions:
    """How a missing collection is created (an existing one is used as it is).

    `distance` None picks Cosine: the frameworks' stores expect it, and Qdrant normalises vectors on insert, so
    normalised vectors lose nothing.
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


class VectorPlan(CoreVectorPlan):
    """The ingest's vectors (`aleph_embed.ingest.vectors.VectorPlan`) as a Qdrant collection holds them: how to create
    it, whether an existing one fits, the settings to record."""

    def __init__(
        self, settings: EmbeddingSettings, named: Mapping[str, VectorSpec] | None, options: CollectionOptions,
        bm25: BM25 | None = None,
    ) -> None:
        super().__init__(settings, named, bm25)
        self.options = options
        self.distance = options.distance or models.Distance.COSINE

    def recorded(self, layout: Layout, chunking: ChunkingSettings | None, host: str) -> RecordedSettings:
        """The settings to record on the collection."""
        settings = self.settings
        vectors = {
            name: VectorSettings(layer=spec.layer, pooling=spec.pooling, normalize=settings.normalize)
            for name, spec in self.by_name.items()
        }
        return RecordedSettings(
            model=settings.model, host_kind=host_kind(host), vectors=vectors, layout=layout, chunking=chunking,
            endpoint=settings.endpoint_options() or None,
            sparse=None if self.sparse is None else {SPARSE_NAME: SparseSettings(**self.sparse.as_dict())},
        )

    def vectors_config(self, size: int) -> models.VectorParams | dict[str, models.VectorParams]:
        params = models.VectorParams(size=size, distance=self.distance, on_disk=self.options.on_disk)
        return params if self.named is None else {name: params for name in self.named}

    def create_arguments(self, size: int) -> dict[str, Any]:
        """Keyword arguments of `create_collection`."""
        options = self.options
        return {
            "vectors_config": self.vectors_config(size),
            "sparse_vectors_config": None if self.sparse is None else {
                SPARSE_NAME: models.SparseVectorParams(modifier=models.Modifier.IDF)
            },
            "shard_number": options.shard_number,
            "replication_factor": options.replication_factor,
            "write_consistency_factor": options.write_consistency_factor,
            "on_disk_payload": options.on_disk_payload,
            "hnsw_config": options.hnsw_config,
            "quantization_config": options.quantization_config,
        }

    def check(self, collection: str, info: models.CollectionInfo, size: int) -> None:
        """Raise `CollectionMismatchError` saying what to change when the collection cannot take these vectors."""
        self._check_sparse(collection, info)
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

    def _check_sparse(self, collection: str, info: models.CollectionInfo) -> None:
        if self.sparse is None:
            return
        params = (info.config.params.sparse_vectors or {}).get(SPARSE_NAME)
        if params is None or params.modifier != models.Modifier.IDF:
            raise CollectionMismatchError(
                f"collection {collection!r} has no sparse vector {SPARSE_NAME!r} with the idf modifier for BM25: "
                "ingest into another collection, or recreate this one (CLI: --recreate)"
            )

    def _check_params(self, collection: str, what: str, params: models.VectorParams, size: int) -> None:
        if params.size != size:
            raise CollectionMismatchError(
                f"collection {collection!r}: {what} has size {params.size}, but model {self.settings.model!r} gives "
                f"{size}: use another collection (or delete this one) or the model it was built with"
            )
        accepted = {self.distance}
        if self.options.distance is None and self.settings.normalize:
            accepted.add(models.Distance.DOT)  # same ranking as Cosine on unit vectors (collections of earlier versions)
        if params.distance not in accepted:
            raise CollectionMismatchError(
                f"collection {collection!r}: {what} uses {params.distance.value} distance, which does not fit "
                f"{'normalised' if self.settings.normalize else 'unnormalised'} vectors (expected "
                f"{' or '.join(sorted(d.value for d in accepted))}); use another collection"
            )


class VectorSettings(BaseModel):
    """How one stored vector was made from the `/embed` answer."""

    model_config = ConfigDict(extra="allow")

    layer: int
    pooling: Pooling
    normalize: bool


class ChunkingSettings(BaseModel):
    """How documents were cut into chunks (one point per chunk)."""

    model_config = ConfigDict(extra="allow")

    max_tokens: int
    overlap: int


class SparseSettings(BaseModel):
    """How a BM25 sparse vector was made (`BM25Settings`)."""

    model_config = ConfigDict(extra="allow")

    language: str
    k: float
    b: float
    avg_len: float

    def bm25(self) -> BM25Settings:
        return BM25Settings(language=self.language, k=self.k, b=self.b, avg_len=self.avg_len)


class RecordedSettings(BaseModel):
    """What an ingest recorded on its collection (Qdrant collection metadata under `SETTINGS_KEY`).

    `vectors` maps each vector name (`""` for the unnamed vector) to its layer, pooling and normalisation;
    `endpoint` holds the endpoint and its options (`EmbeddingOptions.endpoint_options`), None for `/embed`;
    `chunking` is None when documents were stored whole; `sparse` maps the BM25 vector's name to its settings (None:
    dense only); `search` is the search mode an evaluation found best (`eval --record`), not compared. Fields added by later versions are kept (`extra="allow"`)
    and compared like the others; `host_kind` (`local` or `remote`) is informational.
    """

    model_config = ConfigDict(extra="allow")

    model: str
    host_kind: str
    vectors: dict[str, VectorSettings]
    layout: Layout
    chunking: ChunkingSettings | None = None
    endpoint: dict[str, Any] | None = None
    sparse: dict[str, SparseSettings] | None = None
    search: dict[str, Any] | None = None

    def embedding_settings(self, using: str | None = None, **options: Any) -> EmbeddingSettings:
        """The settings that embed a query like the documents of vector `using` (None: the unnamed vector, or the
        only one); `options` override or add `EmbeddingOptions` fields."""
        name = "" if using is None else using
        if name not in self.vectors:
            if using is None and len(self.vectors) == 1:
                name = next(iter(self.vectors))
            else:
                raise ConfigurationError(
                    f"no vector named {using!r}; this collection has {sorted(self.vectors)} (CLI: --using NAME)"
                )
        vector = self.vectors[name]
        return EmbeddingSettings(
            **{"model": self.model, "layer": vector.layer, "pooling": vector.pooling, "normalize": vector.normalize,
               **self.endpoint_options(), **options}
        )

    def endpoint_options(self) -> dict[str, Any]:
        """The recorded endpoint and its options; `embed` where none is recorded (never `auto`: the documents were
        embedded through one endpoint, which the queries must use too)."""
        return self.endpoint or {"endpoint": "embed"}

    def differences(self, other: RecordedSettings) -> list[str]:
        """`field: recorded -> other` for every field that differs (`host_kind` and `search` aside)."""
        mine, theirs = self.model_dump(mode="json"), other.model_dump(mode="json")
        return [
            f"{key}: {mine.get(key)!r} -> {theirs.get(key)!r}"
            for key in sorted(set(mine) | set(theirs))
            if key not in ("host_kind", "search") and mine.get(key) != theirs.get(key)
        ]

    @classmethod
    def of(cls, info: models.CollectionInfo) -> RecordedSettings | None:
        """The settings recorded on a collection; None when it has none (not written by an ingest)."""
        recorded = (info.config.metadata or {}).get(SETTINGS_KEY)
        if recorded is None:
            return None
        try:
            return cls.model_validate(recorded)
        except ValidationError as error:
            raise CollectionMismatchError(f"the settings recorded on the collection are unreadable: {error}") from None


def require_collection(qdrant: QdrantClient, collection: str) -> None:
    """`ConfigurationError` when `collection` does not exist."""
    if not qdrant_call(lambda: qdrant.collection_exists(collection)):
        raise ConfigurationError(f"no collection {collection!r} here; run `aleph-embed ingest` first")


def recorded_settings(qdrant: QdrantClient, collection: str) -> RecordedSettings | None:
    """The settings an ingest recorded on `collection`, None when it has none; raises `ConfigurationError` when the
    collection does not exist."""
    require_collection(qdrant, collection)
    return RecordedSettings.of(qdrant_call(lambda: qdrant.get_collection(collection)))


FILES_ROOT_KEY = "aleph_embed_files_root"
"""The key of the collection metadata that holds the folder file ids are relative to (the first file ingest's)."""


def files_root(qdrant: QdrantClient, collection: str, given: Path | None) -> tuple[Path, bool]:
    """The folder file ids are relative to: `given`, else the one the collection records, else the current
    directory; and whether it is the recorded one (so the same files get the same ids from any directory)."""
    if given is not None:
        return Path(os.path.abspath(given)), False
    if qdrant_call(lambda: qdrant.collection_exists(collection)):
        metadata = qdrant_call(lambda: qdrant.get_collection(collection)).config.metadata or {}
        recorded = metadata.get(FILES_ROOT_KEY)
        if isinstance(recorded, str) and os.path.isabs(recorded):
            return Path(recorded), True
    return Path.cwd(), False


def record_files_root(qdrant: QdrantClient, collection: str, root: Path) -> None:
    """Record `root` as the collection's files root, unless it records one already."""
    if not qdrant_call(lambda: qdrant.collection_exists(collection)):
        return
    metadata = qdrant_call(lambda: qdrant.get_collection(collection)).config.metadata or {}
    if FILES_ROOT_KEY not in metadata:
        qdrant_call(lambda: qdrant.update_collection(collection, metadata={FILES_ROOT_KEY: str(root)}))


def host_kind(host: str) -> str:
    """`local` for a server on this machine, `remote` otherwise."""
    return "local" if urlsplit(host).hostname in _LOOPBACK else "remote"
