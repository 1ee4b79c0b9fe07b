"""Dataset preparation shared by the training scripts: token counts for length-grouped batching."""

from __future__ import annotations

from typing import Any

import datasets
import pyarrow.compute as pc

from processing_slip.frequency import parse_frequency
from processing_slip.patch_policy import plan_patches

LENGTH_COLUMN = "length"


def token_count(series_shape: tuple[int, int], freq: str | None, feature_extractor: Any) -> int:
    """Encoder tokens (channels x patches) the feature extractor's patch policy gives a (C, L) series."""
    channels, length = series_shape
    seconds = parse_frequency(freq or feature_extractor.default_freq or "1s")
    plan = plan_patches(
        length,
        seconds,
        target_patches=feature_extractor.target_patches,
        max_patches=feature_extractor.max_patches,
        max_patch_size=feature_extractor.max_patch_size,
    )
    return channels * plan.num_patches


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
