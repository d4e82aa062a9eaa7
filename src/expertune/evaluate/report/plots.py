"""Small matplotlib figures for the report, returned as inline PNG data URIs (Agg backend:
no display needed)."""

from __future__ import annotations

import base64
import io
from typing import Any, Sequence


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def data_uri(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def forest(rows: Sequence[dict[str, Any]], *, title: str, xlabel: str = "win rate (ties = ½)") -> str | None:
    """rows: {"label", "value", "interval": (lo, hi) | None}; a dashed line marks 0.5 (parity)."""
    rows = [r for r in rows if r.get("value") is not None]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(rows) + 1.1))
    for y, r in enumerate(reversed(rows)):
        lo, hi = r.get("interval") or (r["value"], r["value"])
        ax.plot([lo, hi], [y, y], color="#4c72b0", lw=2)
        ax.plot([r["value"]], [y], "o", color="#dd8452" if r.get("highlight") else "#4c72b0", ms=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r["label"] for r in reversed(rows)])
    ax.axvline(0.5, ls="--", color="#888", lw=1)
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return data_uri(fig)


def heatmap(values: list[list[float | None]], rows: Sequence[str], cols: Sequence[str], *, title: str,
            vmin: float = 0.0, vmax: float = 1.0, cmap: str = "RdBu") -> str | None:
    if not values or not any(v is not None for row in values for v in row):
        return None
    import numpy as np

    plt = _plt()
    grid = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 2, 0.6 * len(rows) + 1.2))
    im = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.05)
    return data_uri(fig)


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float | None]], *, title: str, ylabel: str,
                 ylim: tuple[float, float] | None = None, hline: float | None = None) -> str | None:
    if not groups or not series:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(groups) * max(1, len(series)) / 1.5 + 2), 3))
    width = 0.8 / len(series)
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, [v if v is not None else 0 for v in values], width, label=name)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=15 if len(groups) > 4 else 0)
    if ylim:
        ax.set_ylim(*ylim)
    if hline is not None:
        ax.axhline(hline, ls="--", color="#888", lw=1)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return data_uri(fig)
