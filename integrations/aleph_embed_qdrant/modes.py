"""Search modes: dense, sparse (BM25) or hybrid (fused in Qdrant, `rrf` or `dbsf`), without qdrant-client (the CLI
builds its flags from them at start)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from aleph_embed import ConfigurationError

if TYPE_CHECKING:
    from .collection import RecordedSettings

Mode = Literal["dense", "sparse", "hybrid"]
MODES: tuple[Mode, ...] = get_args(Mode)
Fusion = Literal["rrf", "dbsf"]
FUSIONS: tuple[Fusion, ...] = get_args(Fusion)


@dataclass(frozen=True)
class SearchMode:
    """What a search ranks by: `mode`; for hybrid the `fusion`, RRF's `rrf_k` (Qdrant's default 2) and `weights`
    (dense, sparse) of RRF, and `prefetch` (points each side contributes; default the search's limit)."""

    mode: Mode = "dense"
    fusion: Fusion = "rrf"
    rrf_k: int | None = None
    weights: tuple[float, float] | None = None
    prefetch: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigurationError(f"search mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.fusion not in FUSIONS:
            raise ConfigurationError(f"fusion {self.fusion!r}: use one of {', '.join(FUSIONS)}")
        if self.rrf_k is not None and self.rrf_k < 1:
            raise ConfigurationError("rrf_k must be at least 1")
        if self.weights is not None and (self.fusion != "rrf" or len(self.weights) != 2 or min(self.weights) < 0):
            raise ConfigurationError("weights: two numbers of at least 0 (dense, sparse), for fusion rrf only")
        if self.prefetch is not None and self.prefetch < 1:
            raise ConfigurationError("prefetch must be at least 1")

    @property
    def label(self) -> str:
        """`dense`, `sparse`, or `hybrid-<fusion>` with its parameters."""
        if self.mode != "hybrid":
            return self.mode
        extras = [] if self.rrf_k is None else [f"k={self.rrf_k}"]
        if self.weights is not None:
            extras.append(f"w={self.weights[0]:g}:{self.weights[1]:g}")
        return f"hybrid-{self.fusion}{'(' + ','.join(extras) + ')' if extras else ''}"

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "fusion": self.fusion, "rrf_k": self.rrf_k,
                "weights": list(self.weights) if self.weights else None}

    @classmethod
    def recorded(cls, recorded: RecordedSettings | None) -> SearchMode:
        """The mode an evaluation recorded on the collection as best (`eval --record`), else dense."""
        found = (recorded.search if recorded is not None else None) or {}
        weights = found.get("weights")
        return cls(mode=found.get("mode", "dense"), fusion=found.get("fusion", "rrf"), rrf_k=found.get("rrf_k"),
                   weights=tuple(weights) if weights else None)
