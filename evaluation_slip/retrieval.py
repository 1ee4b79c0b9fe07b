"""Sensor <-> text retrieval Recall@K in both directions, with duplicate captions handled.

Captions repeat (template captions, the same label phrase for many windows). Identical texts are merged
into one candidate: sensor -> text is a hit when the sample's caption is within the top K distinct texts;
text -> sensor is queried once per distinct text and is a hit when any sample with that caption is within
the top K samples. Ties count against the query (a candidate scoring the same as the best relevant one is
ranked above it), so a collapsed encoder that maps everything to one point scores chance, not 100%.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .features import extract_sensor_embeddings, extract_text_embeddings
from .zero_shot import l2_normalize

DEFAULT_KS = (1, 5, 10)
_CHUNK = 1024


def _recall_at_k(
    queries: np.ndarray,
    candidates: np.ndarray,
    query_ids: np.ndarray,
    candidate_ids: np.ndarray,
    ks: Sequence[int],
) -> dict[int, float]:
    """Fraction of queries with a relevant candidate (same id) in the top k, in chunks to bound memory."""
    hits = np.zeros((len(ks), len(queries)), dtype=bool)
    for start in range(0, len(queries), _CHUNK):
        scores = queries[start : start + _CHUNK] @ candidates.T
        relevant = query_ids[start : start + _CHUNK, None] == candidate_ids[None, :]
        best_relevant = np.where(relevant, scores, -np.inf).max(axis=1, keepdims=True)
        rank = (np.where(relevant, -np.inf, scores) >= best_relevant).sum(axis=1)
        for row, k in enumerate(ks):
            hits[row, start : start + _CHUNK] = rank < k
    return {k: float(hit.mean()) for k, hit in zip(ks, hits)}


def retrieval_recall(
    sensor_embeddings: np.ndarray,
    text_embeddings: np.ndarray,
    texts: Sequence[str] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, float]:
    """Recall@K for paired rows (sensor i <-> text i), both directions.

    Without `texts` every pair is treated as distinct. Returns keys "sensor_to_text/R@K",
    "text_to_sensor/R@K", plus "num_sensors" and "num_distinct_texts".
    """
    sensor_embeddings = l2_normalize(sensor_embeddings)
    text_embeddings = l2_normalize(text_embeddings)
    if sensor_embeddings.shape != text_embeddings.shape:
        raise ValueError(
            f"need one text embedding per sensor embedding with one width, got {sensor_embeddings.shape} "
            f"and {text_embeddings.shape}."
        )
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}.")
    if texts is None:
        text_ids = np.arange(len(sensor_embeddings))
        unique_rows = text_ids
    else:
        if len(texts) != len(sensor_embeddings):
            raise ValueError(f"need one text per pair ({len(sensor_embeddings)}), got {len(texts)}.")
        _, unique_rows, text_ids = np.unique(
            np.asarray(texts, dtype=object), return_index=True, return_inverse=True
        )
    distinct_ids = np.arange(len(unique_rows))
    distinct_texts = text_embeddings[unique_rows]
    sensor_to_text = _recall_at_k(sensor_embeddings, distinct_texts, text_ids, distinct_ids, ks)
    text_to_sensor = _recall_at_k(distinct_texts, sensor_embeddings, distinct_ids, text_ids, ks)
    result = {f"sensor_to_text/R@{k}": value for k, value in sensor_to_text.items()}
    result |= {f"text_to_sensor/R@{k}": value for k, value in text_to_sensor.items()}
    result["num_sensors"] = len(sensor_embeddings)
    result["num_distinct_texts"] = len(unique_rows)
    return result


def evaluate_retrieval(
    model: torch.nn.Module,
    processor: Any,
    data: Any,
    texts: Sequence[str],
    *,
    freq: str | Sequence[str] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    **kwargs: Any,
) -> dict[str, float]:
    """Embed paired series and captions with `model` and return `retrieval_recall`."""
    sensor_embeddings = extract_sensor_embeddings(model, processor, data, freq=freq, **kwargs)
    text_embeddings = extract_text_embeddings(model, processor, list(texts), **kwargs)
    return retrieval_recall(sensor_embeddings, text_embeddings, texts, ks)
