"""Captioning metrics in one call: BLEU-4, METEOR, ROUGE-L, SBERT cosine and BERTScore, all offline.

Each metric is a local `evaluate` module under `evaluation_slip/metrics/<name>/`, so it can also be used
alone: ``evaluate.load(metric_path("bleu4"))``. A metric whose dependency or data is missing is reported
under "skipped" with the reason, never as a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

CAPTION_METRICS = ("bleu4", "meteor", "rouge_l", "sbert_similarity", "bertscore")
METRICS_DIR = Path(__file__).resolve().parent / "metrics"


def metric_path(name: str) -> str:
    """Directory of a local metric module, for `evaluate.load`."""
    if name not in CAPTION_METRICS:
        raise ValueError(f"unknown caption metric {name!r}; choose from {CAPTION_METRICS}.")
    return str(METRICS_DIR / name)


def caption_metrics(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    metrics: Sequence[str] = CAPTION_METRICS,
    metric_kwargs: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Score generated captions against references (one string or a list of strings per prediction).

    Returns {metric name: value} for each metric that ran, plus "skipped": {metric name: reason} for those
    that could not run here (a missing package, WordNet, or BERTScore weights). `metric_kwargs` passes extra
    arguments per metric, e.g. {"sbert_similarity": {"device": "cuda"}}.
    """
    import evaluate

    if isinstance(predictions, str) or not all(isinstance(p, str) for p in predictions):
        raise ValueError("predictions must be a list of strings.")
    if len(predictions) != len(references) or not predictions:
        raise ValueError(
            f"need one reference entry per prediction, got {len(predictions)} and {len(references)}."
        )
    nested = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in metrics:
        try:
            module = evaluate.load(metric_path(name))
            output = module.compute(
                predictions=list(predictions), references=nested, **(metric_kwargs or {}).get(name, {})
            )
        except (ImportError, LookupError) as error:
            skipped[name] = str(error)
            continue
        if output.get("skipped"):
            skipped[name] = output["skipped"]
            continue
        results[name] = output[name]
    results["skipped"] = skipped
    return results
