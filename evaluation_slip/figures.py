"""Figures of the end-to-end run: series with generated captions, a retrieval example, a confusion matrix."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _plot_series(axis, series: np.ndarray, channel_names: Sequence[str] | None = None) -> None:
    for c, channel in enumerate(np.asarray(series, dtype=np.float32)):
        label = channel_names[c] if channel_names and c < len(channel_names) else f"ch {c}"
        axis.plot(channel, linewidth=0.8, label=label)
    if len(series) <= 6:
        axis.legend(fontsize=6, loc="upper right")
    axis.tick_params(labelsize=6)


def _wrap(text: str, width: int = 110, lines: int = 5) -> str:
    wrapped = textwrap.wrap(text, width)
    return "\n".join(wrapped[:lines]) + (" ..." if len(wrapped) > lines else "")


def _claim_verdicts(checked: dict[str, Any] | None, most: int = 6) -> str:
    """One line of the checked claims of a caption (`faithfulness` output), each marked true or false."""
    if not checked:
        return ""
    if not checked["checked"]:
        return f"claims made {checked['made']}, none checkable"
    marks = [
        f"{'✓' if claim['true'] else '✗'} {claim['kind']}: {claim['stated']}"
        for claim in checked["claims"]
        if claim["true"] is not None
    ]
    summary = f"claims checked {checked['checked']}, true {checked['true']}"
    return f"{summary}: " + "; ".join(marks[:most]) + (" ..." if len(marks) > most else "")


def plot_captions(
    series: Sequence[np.ndarray],
    generated: Sequence[str],
    references: Sequence[str],
    path: str | Path,
    checked: Sequence[dict[str, Any]] | None = None,
) -> None:
    """One panel per series: the values, the model's caption and the reference caption, and, given the
    faithfulness check of each caption (`evaluation_slip.faithfulness`), its checked claims marked ✓ or ✗."""
    checked = list(checked) if checked is not None else [None] * len(series)
    fig, axes = plt.subplots(len(series), 1, figsize=(11, 3.6 * len(series)), squeeze=False)
    for axis, values, caption, reference, verdicts in zip(axes[:, 0], series, generated, references, checked):
        _plot_series(axis, values)
        claims = _claim_verdicts(verdicts)
        axis.set_title(
            f"generated: {_wrap(caption, lines=3)}"
            + (f"\n{_wrap(claims, lines=2)}" if claims else "")
            + f"\nreference: {_wrap(reference, lines=3)}",
            fontsize=7,
            loc="left",
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_retrieval(
    query: str,
    series: Sequence[np.ndarray],
    scores: Sequence[float],
    captions: Sequence[str],
    path: str | Path,
) -> None:
    """A text query and the series it retrieves, best first, with their cosine scores and true captions."""
    fig, axes = plt.subplots(len(series), 1, figsize=(11, 2.6 * len(series)), squeeze=False)
    fig.suptitle(f"query: {_wrap(query, lines=2)}", fontsize=8, x=0.01, ha="left")
    for rank, (axis, values, score, caption) in enumerate(zip(axes[:, 0], series, scores, captions), start=1):
        _plot_series(axis, values)
        axis.set_title(
            f"#{rank} (cosine {score:.3f}) true caption: {_wrap(caption, lines=2)}", fontsize=7, loc="left"
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion_matrix(
    matrix: np.ndarray, label_names: Sequence[str], title: str, path: str | Path
) -> None:
    """Row-normalised confusion matrix (rows: true class, columns: predicted) with counts in the cells."""
    matrix = np.asarray(matrix)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, axis = plt.subplots(figsize=(1.1 * len(label_names) + 2, 1.0 * len(label_names) + 1.5))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(label_names)), label_names, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(label_names)), label_names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for i in range(len(label_names)):
        for j in range(len(label_names)):
            axis.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    axis.set_title(title, fontsize=9)
    fig.colorbar(image, ax=axis, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
