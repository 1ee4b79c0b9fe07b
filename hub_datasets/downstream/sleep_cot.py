"""Sleep-CoT (OpenTSLM): 30 s Sleep-EDF EEG segments with chain-of-thought rationales.

Source: OpenTSLM's ``sleep_cot.csv`` (columns ``time_series``: a list literal ``[[...]]`` holding one
EEG channel, ``label``: one of six stage names, ``rationale``). Split: OpenTSLM's, reproduced
(stratified by label with scikit-learn: 10 % test with seed 42, then 10 % of all rows as validation
with seed 43). Rows are scored by the ``sleep_stage`` parser. Each segment spans 30 s, so ``freq`` is
the segment length over 30 s. No checksum is published; size and structure are checked.
"""

from __future__ import annotations

import datasets
import pandas as pd

from ._base import SourceFile, SourceFileError, check_columns, import_reader
from ._qa import QABuilder, parse_number_list, qa_row

SOURCE = SourceFile(name="sleep_cot.csv", url="https://polybox.ethz.ch/index.php/s/ZryWSdCFJZ9JR3R/download")
LABELS = ("Wake", "Non-REM stage 1", "Non-REM stage 2", "Non-REM stage 3", "REM sleep", "Movement")
SEGMENT_SECONDS = 30
QUESTION = (
    "You are given a 30-second EEG segment. Classify the sleep stage. Reason step by step about the "
    "frequency content and waveforms, then end with 'Answer: <stage>'. Possible stages: "
    + ", ".join(LABELS)
    + "."
)


def stratified_splits(labels: pd.Series, seed: int = 42) -> dict[str, pd.Index]:
    """OpenTSLM's two-stage stratified split of the row index."""
    train_test_split = import_reader("sklearn.model_selection").train_test_split
    train_val, test = train_test_split(labels.index, test_size=0.1, random_state=seed, stratify=labels)
    train, val = train_test_split(
        train_val, test_size=0.1 / 0.9, random_state=seed + 1, stratify=labels[train_val]
    )
    return {"train": train, "validation": val, "test": test}


class SleepCot(QABuilder):
    VERSION = datasets.Version("1.0.0")

    def source_files(self):
        return [SOURCE]

    def _info(self):
        return self._qa_info(
            __doc__,
            "https://github.com/StanfordBDHG/OpenTSLM",
            "Langer et al., OpenTSLM: Time-Series Language Models for Reasoning over Multivariate Medical Text- and Time-Series Data, 2025.",
            "MIT",
        )

    def _split_generators(self, dl_manager):
        frame = pd.read_csv(self.fetch_sources(dl_manager)[SOURCE.name])
        check_columns(frame.columns, ["time_series", "label", "rationale"], SOURCE.name)
        unknown = sorted(set(frame["label"]) - set(LABELS))
        if unknown:
            raise SourceFileError(f"{SOURCE.name}: unknown labels {unknown}; expected {LABELS}")
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"rows": frame.loc[index]})
            for split, index in stratified_splits(frame["label"]).items()
        ]

    def _generate_examples(self, rows):
        for index, row in rows.iterrows():
            series = parse_number_list(row["time_series"], f"{SOURCE.name} row {index}")
            series = series.reshape(1, -1) if series.ndim == 1 else series
            yield (
                int(index),
                qa_row(
                    f"sleep_cot-{int(index):05d}",
                    series,
                    ["eeg"] if len(series) == 1 else [f"eeg_{c}" for c in range(len(series))],
                    f"{series.shape[1] / SEGMENT_SECONDS:g}Hz",
                    "sleep_stage",
                    QUESTION,
                    row["label"],
                    choices=LABELS,
                    rationale=row["rationale"],
                ),
            )
