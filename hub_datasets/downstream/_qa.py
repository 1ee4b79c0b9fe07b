"""Shared pieces of the finetuning (QA / captioning) builders in OpenTSLM's published formats."""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import Any

import datasets
import numpy as np

from ..schema import QA_FEATURES
from ._base import DownstreamBuilder, SourceFileError, series_to_list

SCORER_TASKS = ("multiple_choice", "har_activity", "sleep_stage", "ecg_qa", "caption")
"""Task names of the answer parsers in the evaluation package; every QA row names one."""


class QABuilder(DownstreamBuilder):
    """Base for builders that write QA_FEATURES rows."""

    def _qa_info(
        self, description: str, homepage: str, citation: str, license: str = ""
    ) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=description,
            features=QA_FEATURES,
            homepage=homepage,
            citation=citation,
            license=license,
        )


def qa_row(
    row_id: str,
    series: np.ndarray,
    channel_names: Sequence[str],
    freq: str,
    task: str,
    question: str,
    answer: str,
    choices: Sequence[str] = (),
    rationale: str = "",
) -> dict[str, Any]:
    """One QA_FEATURES row; ``series`` is (C, T)."""
    if task not in SCORER_TASKS:
        raise ValueError(f"task {task!r} has no scorer; use one of {SCORER_TASKS}")
    series = np.asarray(series, dtype=np.float32)
    if series.ndim != 2 or len(channel_names) != series.shape[0]:
        raise ValueError(
            f"series must be (C, T) with one name per channel, got {series.shape} and {channel_names}"
        )
    return {
        "id": row_id,
        "series": series_to_list(series),
        "channel_names": list(channel_names),
        "freq": freq,
        "task": task,
        "question": question,
        "choices": list(choices),
        "answer": answer,
        "rationale": rationale,
    }


def parse_number_list(text: str, where: str) -> np.ndarray:
    """A series stored as a JSON / Python list literal (never eval'd)."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        try:
            values = ast.literal_eval(text)
        except (ValueError, SyntaxError) as error:
            raise SourceFileError(f"{where}: the series is not a list literal ({error})") from error
    try:
        return np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise SourceFileError(f"{where}: the series holds non-numbers ({error})") from error


def random_split_indices(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices as ``datasets.Dataset.train_test_split`` draws them (OpenTSLM's splits)."""
    split = datasets.Dataset.from_dict({"index": np.arange(n)}).train_test_split(
        test_size=test_fraction, seed=seed
    )
    return np.asarray(split["train"]["index"]), np.asarray(split["test"]["index"])


def opentslm_splits(n: int, seed: int, val_seed: int, test_fraction: float = 0.1, val_fraction: float = 0.1):
    """OpenTSLM's split: test carved first, then validation from the rest; returns index arrays per split."""
    train_val, test = random_split_indices(n, test_fraction, seed)
    train, val = random_split_indices(len(train_val), val_fraction / (1 - test_fraction), val_seed)
    return {"train": train_val[train], "validation": train_val[val], "test": test}
