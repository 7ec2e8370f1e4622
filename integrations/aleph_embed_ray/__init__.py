"""The ingest on Ray Data: the stages of `aleph_embed.ingest`'s engine for many processes and machines, with its
points and guarantees (deterministic ids, recorded settings, unchanged documents skipped, failures reported).

```python
import ray.data
from aleph_embed_ray import EmbedDocuments, QdrantTarget, SharedBudget, VectorDatasink

documents = ray.data.read_parquet(...)           # columns id, text, metadata (JSON); or read_files(reader, paths)
points = documents.map_batches(EmbedDocuments, batch_format="pyarrow", concurrency=4, fn_constructor_kwargs=...)
points.write_datasink(VectorDatasink(QdrantTarget(url, "docs")))
```

`ingest(...)` chains them with a driver-side check of the store; `aleph-embed ingest --engine ray` runs it.
"""

from __future__ import annotations

from .budget import BudgetedClient, SharedBudget, SharedWindow
from .columns import DOCUMENT_SCHEMA, POINT_SCHEMA, document_rows
from .datasink import VectorDatasink
from .pipeline import ingest, ray_instance
from .qdrant import QdrantTarget
from .stages import EmbedDocuments, read_files

__all__ = [
    "DOCUMENT_SCHEMA",
    "POINT_SCHEMA",
    "BudgetedClient",
    "EmbedDocuments",
    "QdrantTarget",
    "SharedBudget",
    "SharedWindow",
    "VectorDatasink",
    "document_rows",
    "ingest",
    "ray_instance",
    "read_files",
]
