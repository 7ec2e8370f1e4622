"""A heatmap of nDCG@10 over layer x pooling (extra `aleph-embed[plot]`: matplotlib)."""

from __future__ import annotations

from pathlib import Path

from aleph_embed import POOLINGS
from aleph_embed.errors import MissingExtraError

from .evaluation import Evaluation


def plot_heatmap(evaluation: Evaluation, path: str | Path, *, title: str | None = None) -> Path:
    """Write the nDCG@10 of every (layer, pooling) of `evaluation` (its dense results) as a PNG heatmap; the best cell
    is boxed."""
    MissingExtraError.check("the heatmap", "plot", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [(result.spec, result.scores.ndcg_at_10) for result in evaluation.results
             if result.mode == "dense" and result.spec is not None]
    layers = sorted({spec.layer for spec, _ in cells}, key=lambda layer: (layer < 0, layer))
    poolings = [pooling for pooling in POOLINGS if any(spec.pooling == pooling for spec, _ in cells)]
    grid = [[float("nan")] * len(poolings) for _ in layers]
    for spec, ndcg in cells:
        grid[layers.index(spec.layer)][poolings.index(spec.pooling)] = ndcg
    figure, axes = plt.subplots(figsize=(1.6 * len(poolings) + 2.5, 0.55 * len(layers) + 1.8), dpi=120)
    image = axes.imshow(grid, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(poolings)), poolings)
    axes.set_yticks(range(len(layers)), [str(layer) for layer in layers])
    axes.set_xlabel("pooling")
    axes.set_ylabel("layer")
    low, high = image.get_clim()
    for row, values in enumerate(grid):
        for column, value in enumerate(values):
            if value == value:  # not NaN
                dark = value < (low + high) / 2
                axes.text(column, row, f"{value:.3f}", ha="center", va="center", color="white" if dark else "black")
    best = cells[0][0]
    axes.add_patch(plt.Rectangle((poolings.index(best.pooling) - 0.5, layers.index(best.layer) - 0.5), 1, 1,
                                 fill=False, edgecolor="red", linewidth=2.5))
    axes.set_title(title or f"nDCG@10 over {evaluation.queries} queries ({evaluation.collection})", fontsize=10)
    figure.colorbar(image, ax=axes, label="nDCG@10")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
