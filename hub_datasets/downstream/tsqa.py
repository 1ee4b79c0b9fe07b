"""TSQA (Kong et al. 2025, Time-MQA): time-series question answering, as OpenTSLM trains on it.

Source: ``TSQA.csv`` of the Hub dataset ``ChengsenWang/TSQA`` (columns ``Task``, ``Question``,
``Answer``, ``Series``: a JSON list, one univariate series). Split: OpenTSLM's, reproduced exactly
(10 % test with ``train_test_split(seed=42)``, then 10 % of all rows as validation with seed 42).
Rows are scored by the ``multiple_choice`` parser; the answer options are written inside the question
text, so ``choices`` is empty. The series carry no sampling rate (they come from many domains), so
``freq`` is "" (unknown). No checksum is published; size and structure are checked.
"""

from __future__ import annotations

import datasets
import pandas as pd

from ._base import SourceFile, check_columns
from ._qa import QABuilder, opentslm_splits, parse_number_list, qa_row

SOURCE = SourceFile(
    name="TSQA.csv", url="https://huggingface.co/datasets/ChengsenWang/TSQA/resolve/main/TSQA.csv"
)


class Tsqa(QABuilder):
    """TSQA rows as QA_FEATURES with OpenTSLM's split."""

    VERSION = datasets.Version("1.0.0")

    def source_files(self):
        return [SOURCE]

    def _info(self):
        return self._qa_info(
            __doc__,
            "https://huggingface.co/datasets/ChengsenWang/TSQA",
            "Kong et al., Time-MQA: Time Series Multi-Task Question Answering with Context Enhancement, ACL 2025.",
            "Apache-2.0",
        )

    def _split_generators(self, dl_manager):
        path = self.fetch_sources(dl_manager)[SOURCE.name]
        frame = pd.read_csv(path)
        check_columns(frame.columns, ["Task", "Question", "Answer", "Series"], SOURCE.name)
        splits = opentslm_splits(len(frame), seed=42, val_seed=42)
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"rows": frame.iloc[indices]})
            for split, indices in splits.items()
        ]

    def _generate_examples(self, rows):
        for index, row in rows.iterrows():
            series = parse_number_list(row["Series"], f"{SOURCE.name} row {index}")
            series = series.reshape(1, -1) if series.ndim == 1 else series
            names = ["value"] if len(series) == 1 else [f"value_{c}" for c in range(len(series))]
            yield (
                int(index),
                qa_row(
                    f"tsqa-{int(index):05d}",
                    series,
                    names,
                    "",
                    "multiple_choice",
                    f"{row['Question']} Predict the {row['Task']}.",
                    str(row["Answer"]),
                ),
            )
