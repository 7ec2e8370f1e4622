"""Which vectors each point gets: one from the settings (through their endpoint), or named layers and poolings of
ONE `/embed` call."""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from aleph_embed import ConfigurationError, EmbeddingSettings, EmbedResponse
from aleph_embed.models import Pooling

Vector = Union[list[float], dict[str, list[float]]]
"""A point's dense vector, or its named vectors."""
Packed = Union["array[float]", dict[str, "array[float]"]]
"""A `Vector` as 8-byte floats (the same values, a quarter of a list's memory): how a run holds it until written."""


def pack(vector: Vector) -> Packed:
    return array("d", vector) if isinstance(vector, list) else {name: array("d", values) for name, values in vector.items()}


def unpack(vector: Packed) -> Vector:
    return vector.tolist() if isinstance(vector, array) else {name: values.tolist() for name, values in vector.items()}

if TYPE_CHECKING:
    from .bm25 import BM25, BM25Settings
    from .sink import SparseVector

SPARSE_NAME = "bm25"
"""The name of an ingest's BM25 vector."""


@dataclass(frozen=True)
class VectorSpec:
    """Which output of `/embed` a stored vector is: the layer (negative counts from the end) and the pooling."""

    layer: int
    pooling: Pooling


class VectorPlan:
    """The vectors of each point: one unnamed vector from the settings (through their endpoint), or named vectors
    from ONE /embed call; with `bm25`, a BM25 vector named `SPARSE_NAME` beside them."""

    def __init__(
        self, settings: EmbeddingSettings, named: Mapping[str, VectorSpec] | None, bm25: BM25 | None = None
    ) -> None:
        if named is not None and not named:
            raise ConfigurationError("named vectors: give at least one name, or None for a single unnamed vector")
        if named and "" in named:
            raise ConfigurationError("named vectors: a name must not be empty")
        if named and settings.endpoint not in ("embed", "auto"):  # `auto`: checked once the run has chosen
            raise ConfigurationError(
                f"named vectors are layers and poolings of /embed; endpoint {settings.endpoint!r} gives one vector "
                "per text: drop the named vectors (CLI: --vector) or use endpoint 'embed'"
            )
        if named and SPARSE_NAME in named and bm25 is not None:
            raise ConfigurationError(f"named vectors: {SPARSE_NAME!r} is the sparse vector's name; pick another")
        self.settings = settings
        self.named = dict(named) if named else None
        self.bm25 = bm25

    @property
    def specs(self) -> Sequence[VectorSpec]:
        return list(self.named.values()) if self.named else [VectorSpec(self.settings.layer, self.settings.pooling)]

    @property
    def by_name(self) -> dict[str, VectorSpec]:
        """Each vector's spec by name (`""` for the unnamed vector)."""
        return self.named or {"": self.specs[0]}

    def describe(self) -> dict[str, Any]:
        """What the vectors depend on; part of every document's content hash."""
        return {
            "settings": self.settings.model_dump(mode="json", exclude={"nice", "hosting", "empty_text"}),
            "vectors": {name: [spec.layer, spec.pooling] for name, spec in self.by_name.items()},
            **({} if self.sparse is None else {"sparse": {SPARSE_NAME: self.sparse.as_dict()}}),
        }

    @property
    def sparse(self) -> BM25Settings | None:
        """The BM25 settings of the sparse vector (None: dense only)."""
        return None if self.bm25 is None else self.bm25.settings

    def sparse_vectors(self, text: str) -> dict[str, SparseVector]:
        """The point's sparse vectors (by name) from the text it stores."""
        return {} if self.bm25 is None else {SPARSE_NAME: self.bm25.document(text)}

    def request_extras(self) -> dict[str, Any]:
        specs = self.specs
        return {"layers": [s.layer for s in specs], "pooling": [s.pooling for s in specs]}

    def vectors(self, response: EmbedResponse | list[float]) -> tuple[Vector, int]:
        """The point's vector (or named vectors) from one `/embed` response (or the vector another endpoint gave),
        and the vector size, checked (one size) before a store sees them; the client has refused non-finite values
        already (`InvalidResponseError`)."""
        if self.named is None:
            vector = response if isinstance(response, list) else self.settings.vector(response)
            return vector, len(vector)
        if isinstance(response, list):
            raise TypeError("named vectors need an /embed response")
        named = {name: response.vector(spec.layer, spec.pooling) for name, spec in self.named.items()}
        size = len(next(iter(named.values())))
        if any(len(values) != size for values in named.values()):
            raise ValueError(f"the /embed answer holds vectors of different sizes (expected {size})")
        return named, size
