"""Zero-shot classification: class prompts -> text embeddings, cosine argmax against sensor embeddings.

A class's embedding is the mean of its prompts' L2-normalised text embeddings, renormalised (the CLIP
prompt-ensemble recipe, in `processing_slip.prompt_ensembles`, which the zero-shot pipeline uses too). All
channels of a series are used; the reference code kept 6 random channels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix

from processing_slip.prompt_ensembles import ensemble_embeddings, flatten_prompts

from .features import extract_sensor_embeddings, extract_text_embeddings
from .linear_probe import classification_metrics


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; an all-zero row is an error, not a silent NaN."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("cannot normalise an all-zero embedding.")
    return vectors / norms


def class_embeddings(
    model: torch.nn.Module,
    processor: Any,
    templates: Mapping[str, Sequence[str]],
    label_names: Sequence[str] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """(K, p) class embeddings in the order of `label_names` (default: the order of `templates`)."""
    label_names = list(templates) if label_names is None else list(label_names)
    prompts, counts = flatten_prompts(templates, label_names)
    embeddings = extract_text_embeddings(model, processor, prompts, **kwargs)
    return ensemble_embeddings(torch.from_numpy(embeddings.astype(np.float64)), counts).numpy()


def zero_shot_scores(sensor_embeddings: np.ndarray, class_embeds: np.ndarray) -> np.ndarray:
    """(N, K) cosine similarities."""
    sensor_embeddings, class_embeds = np.asarray(sensor_embeddings), np.asarray(class_embeds)
    if (
        sensor_embeddings.ndim != 2
        or class_embeds.ndim != 2
        or sensor_embeddings.shape[1] != class_embeds.shape[1]
    ):
        raise ValueError(
            f"embeddings must be (N, p) and (K, p) with one p, got {sensor_embeddings.shape} and {class_embeds.shape}."
        )
    return l2_normalize(sensor_embeddings) @ l2_normalize(class_embeds).T


@dataclass
class ZeroShotResult:
    """Metrics, confusion matrix (rows = true class, columns = predicted) and per-row predictions."""

    label_names: list[str]
    metrics: dict[str, float]
    confusion_matrix: np.ndarray
    predictions: np.ndarray = field(repr=False)
    method: str = "zero_shot"

    @property
    def chance_accuracy(self) -> float:
        """Accuracy of always predicting the most frequent true class."""
        counts = self.confusion_matrix.sum(axis=1)
        return float(counts.max() / counts.sum())

    def summary(self) -> dict[str, tuple[float, None]]:
        return {name: (value, None) for name, value in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "label_names": self.label_names,
            "metrics": self.metrics,
            "chance_accuracy": self.chance_accuracy,
            "confusion_matrix": self.confusion_matrix.tolist(),
            "predictions": self.predictions.tolist(),
        }


def zero_shot_classify(
    sensor_embeddings: np.ndarray, labels: Sequence[int], class_embeds: np.ndarray, label_names: Sequence[str]
) -> ZeroShotResult:
    """Score argmax-cosine predictions against integer `labels` (indices into `label_names`)."""
    labels = np.asarray(labels)
    if len(label_names) != len(class_embeds):
        raise ValueError(f"{len(label_names)} label names for {len(class_embeds)} class embeddings.")
    if labels.shape != (len(sensor_embeddings),):
        raise ValueError(
            f"need one label per sensor embedding ({len(sensor_embeddings)}), got {labels.shape}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(label_names)):
        raise ValueError(
            f"labels must be class indices in [0, {len(label_names)}), got {labels.min()}..{labels.max()}."
        )
    predictions = zero_shot_scores(sensor_embeddings, class_embeds).argmax(axis=1)
    return ZeroShotResult(
        label_names=list(label_names),
        metrics=classification_metrics(labels, predictions),
        confusion_matrix=confusion_matrix(labels, predictions, labels=np.arange(len(label_names))),
        predictions=predictions,
    )


def evaluate_zero_shot(
    model: torch.nn.Module,
    processor: Any,
    data: Any,
    templates: Mapping[str, Sequence[str]],
    *,
    label_names: Sequence[str] | None = None,
    labels: Sequence[int] | None = None,
    freq: str | Sequence[str] | None = None,
    **kwargs: Any,
) -> ZeroShotResult:
    """Zero-shot accuracy of `model` on `data` (rows with "series", "freq", "label", or arrays + `labels`).

    `label_names` defaults to the dataset's ClassLabel names; `kwargs` go to the feature extractors
    (batch_size, device, show_progress).
    """
    if label_names is None:
        label_feature = getattr(data, "features", {}).get("label")
        if label_feature is None or not hasattr(label_feature, "names"):
            raise ValueError(
                "pass label_names= (class names in label-index order) for data without a ClassLabel."
            )
        label_names = label_feature.names
    if labels is None:
        labels = data["label"]
    class_embeds = class_embeddings(model, processor, templates, label_names, **kwargs)
    sensor_embeddings = extract_sensor_embeddings(model, processor, data, freq=freq, **kwargs)
    return zero_shot_classify(sensor_embeddings, labels, class_embeds, label_names)
