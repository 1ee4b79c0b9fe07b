"""Batched, gradient-free extraction of SLIP features: probing features, sensor embeddings, text embeddings.

Every evaluation (linear probe, zero-shot, retrieval, the random-init baseline) goes through these three
functions, so they batch the same way, move tensors to the model's device the same way, and return rows in
the caller's order even when batches are grouped by length to limit padding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from modeling_slip.sensor_inputs import SENSOR_INPUT_KEYS, TEXT_INPUT_KEYS

_FEATURE_METHODS = {"patch": "get_mean_token_features", "sensor": "get_sensor_features"}


def _series_and_freq_columns(data: Any) -> tuple[Sequence[Any], Sequence[str] | None]:
    if hasattr(data, "column_names") or isinstance(data, Mapping):
        columns = data.column_names if hasattr(data, "column_names") else list(data)
        if "series" not in columns:
            raise ValueError(
                f"rows must have a 'series' column (classification_features schema), got {columns}."
            )
        raw_series = data.with_format("numpy")["series"] if hasattr(data, "with_format") else data["series"]
        return raw_series, data["freq"] if "freq" in columns else None
    if isinstance(data, Sequence) and len(data) and isinstance(data[0], Mapping):
        return [row["series"] for row in data], [row["freq"] for row in data] if "freq" in data[0] else None
    return data, None


def as_series_list(data: Any) -> list[np.ndarray]:
    """(C, T) float32 arrays from a `datasets.Dataset`, a mapping of columns or a list of rows with a
    ``"series"`` column, or a list of (C, T) / (T,) arrays."""
    raw_series, _ = _series_and_freq_columns(data)
    return [_as_channels_first(s, i) for i, s in enumerate(raw_series)]


def series_and_freqs(
    data: Any, freq: str | Sequence[str] | None = None
) -> tuple[list[np.ndarray], list[str | None]]:
    """`as_series_list(data)` plus one frequency string per series: `freq` if given (one string or one per
    series), else the rows' ``"freq"`` column."""
    raw_series, row_freqs = _series_and_freq_columns(data)
    series = [_as_channels_first(s, i) for i, s in enumerate(raw_series)]
    if freq is not None:
        freqs = [freq] * len(series) if isinstance(freq, str) else list(freq)
    elif row_freqs is not None:
        freqs = list(row_freqs)
    else:
        raise ValueError("pass freq= (e.g. freq='50Hz') or rows with a 'freq' column.")
    if len(freqs) != len(series):
        raise ValueError(
            f"got {len(freqs)} frequencies for {len(series)} series; pass one per series or one string."
        )
    # "" records an unknown rate: None lets the feature extractor apply its documented default.
    return series, [freq or None for freq in freqs]


def _as_channels_first(series: Any, index: int) -> np.ndarray:
    array = np.asarray(series)
    if array.dtype == object:
        array = np.stack([np.asarray(channel, dtype=np.float32) for channel in series])
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"series {index} must have shape (channels, time) or (time,), got {array.shape}.")
    return array


def _length_order(series: Sequence[np.ndarray], sort_by_length: bool) -> np.ndarray:
    if not sort_by_length:
        return np.arange(len(series))
    sizes = np.array([(s.shape[1], s.shape[0]) for s in series], dtype=np.int64).reshape(-1, 2)
    return np.lexsort((-sizes[:, 1], -sizes[:, 0]))


def _model_device(model: torch.nn.Module, device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _as_tensor(output: Any, method: str) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    raise ValueError(f"model.{method} must return a (batch, dim) tensor, got {type(output).__name__}.")


@torch.inference_mode()
def _run_batches(
    model: torch.nn.Module,
    order: np.ndarray,
    batch_size: int,
    encode: Any,
    description: str,
    show_progress: bool,
) -> np.ndarray:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    was_training = model.training
    model.eval()
    outputs: list[np.ndarray] = []
    try:
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, desc=description, disable=not show_progress, unit="batch"):
            outputs.append(encode(order[start : start + batch_size]).float().cpu().numpy())
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("nothing to embed: the input is empty.")
    stacked = np.concatenate(outputs)
    result = np.empty_like(stacked)
    result[order] = stacked
    return result


def extract_sensor_features(
    model: torch.nn.Module,
    processor: Any,
    data: Any,
    *,
    kind: str = "patch",
    freq: str | Sequence[str] | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    sort_by_length: bool = True,
    show_progress: bool = True,
    processor_kwargs: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Embed every series of `data` and return a (N, dim) float32 array in input order.

    kind="patch" gives the probing features (`get_mean_token_features`, masked token mean); kind="sensor" the
    L2-normalised contrastive embeddings (`get_sensor_features`). With `sort_by_length`, series of similar
    length share a batch, which cuts padding without changing any result.
    """
    if kind not in _FEATURE_METHODS:
        raise ValueError(f"kind must be one of {sorted(_FEATURE_METHODS)}, got {kind!r}.")
    method = _FEATURE_METHODS[kind]
    series, freqs = series_and_freqs(data, freq)
    target = _model_device(model, device)
    extra = dict(processor_kwargs or {})

    def encode(indices: np.ndarray) -> torch.Tensor:
        inputs = processor(
            series=[series[i] for i in indices],
            freq=[freqs[i] for i in indices],
            return_tensors="pt",
            **extra,
        )
        tensors = {key: inputs[key].to(target) for key in SENSOR_INPUT_KEYS}
        return _as_tensor(getattr(model, method)(**tensors), method)

    order = _length_order(series, sort_by_length)
    return _run_batches(model, order, batch_size, encode, f"{kind} features", show_progress)


def extract_patch_features(model: torch.nn.Module, processor: Any, data: Any, **kwargs: Any) -> np.ndarray:
    """Probing features (masked mean of the encoder tokens), (N, d)."""
    return extract_sensor_features(model, processor, data, kind="patch", **kwargs)


def extract_sensor_embeddings(model: torch.nn.Module, processor: Any, data: Any, **kwargs: Any) -> np.ndarray:
    """L2-normalised sensor embeddings of the contrastive space, (N, p)."""
    return extract_sensor_features(model, processor, data, kind="sensor", **kwargs)


def extract_text_embeddings(
    model: torch.nn.Module,
    processor: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    sort_by_length: bool = True,
    show_progress: bool = True,
) -> np.ndarray:
    """L2-normalised text embeddings (`get_text_features`) of `texts`, (N, p), in input order."""
    if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
        raise ValueError("texts must be a list of strings.")
    texts = list(texts)
    target = _model_device(model, device)

    def encode(indices: np.ndarray) -> torch.Tensor:
        inputs = processor(text=[texts[i] for i in indices], return_tensors="pt", padding=True)
        tensors = {key: inputs[key].to(target) for key in TEXT_INPUT_KEYS}
        return _as_tensor(model.get_text_features(**tensors), "get_text_features")

    order = (
        np.argsort([-len(text) for text in texts], kind="stable") if sort_by_length else np.arange(len(texts))
    )
    return _run_batches(model, order, batch_size, encode, "text embeddings", show_progress)
