"""Captioning metrics in one call: BLEU-4, METEOR, ROUGE-L, SBERT cosine and BERTScore, all offline, beside
the share of identical captions and, given the series, caption faithfulness (`evaluation_slip.faithfulness`).

Each text metric is a local `evaluate` module under `evaluation_slip/metrics/<name>/`, so it can also be used
alone: ``evaluate.load(metric_path("bleu4"))``. A metric whose dependency or data is missing is reported
under "skipped" with the reason, never as a number. Text overlap with a reference cannot tell a caption of the
series from the corpus's most common caption; the collapse figures and the faithfulness figures can.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .faithfulness import caption_collapse, faithfulness_from_rows

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
    rows: Any = None,
) -> dict[str, Any]:
    """Score generated captions against references (one string or a list of strings per prediction).

    Returns {metric name: value} for each metric that ran, plus "skipped": {metric name: reason} for those
    that could not run here (a missing package, WordNet, or BERTScore weights), and the collapse figures
    "identical_caption_share" and "distinct_captions" (`caption_collapse`). `metric_kwargs` passes extra
    arguments per metric, e.g. {"sbert_similarity": {"device": "cuda"}}.

    With ``rows`` (the dataset rows the predictions caption, in order: a `datasets.Dataset`, a list of row
    dicts or a mapping of columns, with ``series`` and where present ``freq``, ``channel_names``, ``units``,
    ``domain``, ``caption_semantic``) it also checks each caption against its series: "true_claim_share" and
    "faithful_caption_share" join the metrics, and "faithfulness" holds `faithfulness_from_rows`'s full result
    (claim counts, per-kind counts, every caption's claims with their verdicts).
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
    results.update(caption_collapse(predictions))
    if rows is not None:
        faithfulness = faithfulness_from_rows(predictions, rows)
        results["true_claim_share"] = faithfulness["true_claim_share"]
        results["faithful_caption_share"] = faithfulness["faithful_caption_share"]
        results["faithfulness"] = faithfulness
    return results
