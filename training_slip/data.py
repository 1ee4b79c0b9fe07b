"""Dataset preparation shared by the training scripts: up-front row validation, token counts for length-grouped
batching."""

from __future__ import annotations

from typing import Any

import datasets
import pyarrow.compute as pc
from transformers.utils import logging

from hub_datasets.validation import validate_series_dataset

logger = logging.get_logger(__name__)

LENGTH_COLUMN = "length"


def validate_rows(dataset: datasets.Dataset, name: str, drop_invalid: bool) -> datasets.Dataset:
    """Check every row's series and freq before training (`validate_series_dataset`), so a bad row stops the
    run at once, named by its row in ``name``, instead of crashing the batch that holds it hours in; with
    ``drop_invalid``, the bad rows are left out and counted in the log instead.

    Raises:
        ValueError: naming ``name``, its first invalid row and what to do, unless ``drop_invalid``.
    """
    try:
        valid, report = validate_series_dataset(dataset, drop_invalid=drop_invalid)
    except ValueError as error:
        raise ValueError(
            f"{name}: {error}\nIn the training scripts, drop_invalid=True is --drop_invalid_rows."
        ) from error
    if report.num_invalid:
        logger.warning(
            f"{name}: dropped {report.num_invalid} invalid rows of {report.num_rows}, kept {len(valid)}."
        )
    else:
        logger.info(f"{name}: all {report.num_rows} rows are valid.")
    return valid


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
