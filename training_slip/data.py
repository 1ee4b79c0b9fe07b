"""Dataset preparation shared by the training scripts: token counts for length-grouped batching."""

from __future__ import annotations

from typing import Any

import datasets
import pyarrow.compute as pc

LENGTH_COLUMN = "length"


def token_count(series_shape: tuple[int, int], freq: str | None, feature_extractor: Any) -> int:
    """Encoder tokens (channels x patches) the feature extractor gives a (C, L) series; a row without a rate
    ("") gets the extractor's default, as in the collators."""
    channels, length = series_shape
    return (
        channels
        * feature_extractor.plan(length, feature_extractor.seconds_per_step(freq or None)).num_patches
    )


def add_token_lengths(dataset: datasets.Dataset, feature_extractor: Any) -> datasets.Dataset:
    """Add the `length` column `train_sampling_strategy="group_by_length"` batches by, so series of similar
    token counts share a batch and padding stays small. Shapes are read from the Arrow table, not decoded."""
    series = dataset.with_format("arrow")[:]["series"]
    channels = pc.list_value_length(series).to_pylist()
    steps = pc.list_value_length(pc.list_element(series, 0)).to_pylist()
    lengths = [
        token_count((c, length), freq, feature_extractor)
        for c, length, freq in zip(channels, steps, dataset["freq"])
    ]
    return dataset.add_column(LENGTH_COLUMN, lengths)
