"""A local `/embed`-compatible server computing real embeddings with transformers (the `[server]` extra).

Importing this package is cheap: torch, transformers and FastAPI load only when a server starts.
"""

from .launcher import DEFAULT_MODEL_NAME, LocalServer

__all__ = ["DEFAULT_MODEL_NAME", "LocalServer"]
