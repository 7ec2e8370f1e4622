"""The poolings of `/embed` (a leaf module: the CLI names them while it starts, before pydantic loads)."""

from typing import Literal, get_args

Pooling = Literal["mean", "weighted_mean", "max", "last_token", "abs_max"]
POOLINGS: tuple[Pooling, ...] = get_args(Pooling)
