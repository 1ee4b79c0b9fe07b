"""HAR-CoT (OpenTSLM): accelerometer windows with chain-of-thought rationales, 8 activities.

Source: OpenTSLM's ``har_cot.zip`` holding ``har_cot_{train,val,test}_cot.csv`` (the published split)
with columns ``x_axis``, ``y_axis``, ``z_axis`` (list literals), ``label`` and ``rationale``; the files
repeat their header row inside the data, and those rows are skipped. Rows are scored by the
``har_activity`` parser: ``answer`` is the label, ``rationale`` the reasoning that ends in it. The CSVs
store no sampling rate; ``freq`` is the config's (50 Hz by default, the rate of the HAR recordings
OpenTSLM drew from; pass ``freq=`` to change it). No checksum is published; zip CRCs are checked.
"""

from __future__ import annotations

import io
import zipfile

import datasets
import numpy as np
import pandas as pd

from ._base import SourceConfig, SourceFile, SourceFileError, check_columns
from ._qa import QABuilder, parse_number_list, qa_row

ARCHIVE = SourceFile(name="har_cot.zip", url="https://polybox.ethz.ch/index.php/s/kD74GnMYxn3HBEM/download")
FILES = {
    "train": "har_cot_train_cot.csv",
    "validation": "har_cot_val_cot.csv",
    "test": "har_cot_test_cot.csv",
}
LABELS = ("biking", "lying", "running", "sitting", "standing", "walking", "walking_down", "walking_up")
QUESTION = (
    "You are given accelerometer data in all three dimensions. Classify the activity. "
    "Reason step by step about movement intensity and periodicity, then end with 'Answer: <label>'. "
    "Possible activities: " + ", ".join(LABELS) + "."
)


class HarCotConfig(SourceConfig):
    def __init__(self, *args, freq: str = "50Hz", **kwargs):
        super().__init__(*args, **kwargs)
        self.freq = freq


def read_split_csv(archive: zipfile.ZipFile, file_name: str) -> pd.DataFrame:
    """One split's CSV from anywhere in the archive, without the header rows repeated inside it."""
    members = [name for name in archive.namelist() if name.rsplit("/", 1)[-1] == file_name]
    if len(members) != 1:
        raise SourceFileError(f"{ARCHIVE.name}: expected one {file_name}, found {members}")
    frame = pd.read_csv(io.BytesIO(archive.read(members[0])))
    check_columns(frame.columns, ["x_axis", "y_axis", "z_axis", "label", "rationale"], file_name)
    return frame[frame["x_axis"] != "x_axis"]


class HarCot(QABuilder):
    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = HarCotConfig

    def source_files(self):
        return [ARCHIVE]

    def _info(self):
        return self._qa_info(
            __doc__,
            "https://github.com/StanfordBDHG/OpenTSLM",
            "Langer et al., OpenTSLM: Time-Series Language Models for Reasoning over Multivariate Medical Text- and Time-Series Data, 2025.",
            "MIT",
        )

    def _split_generators(self, dl_manager):
        archive = self.fetch_sources(dl_manager)[ARCHIVE.name]
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"archive": archive, "file_name": name})
            for split, name in FILES.items()
        ]

    def _generate_examples(self, archive, file_name):
        with zipfile.ZipFile(archive) as handle:
            frame = read_split_csv(handle, file_name)
        for index, row in frame.iterrows():
            where = f"{file_name} row {index}"
            if row["label"] not in LABELS:
                raise SourceFileError(f"{where}: unknown label {row['label']!r}; expected one of {LABELS}")
            series = np.stack(
                [parse_number_list(row[axis], where) for axis in ("x_axis", "y_axis", "z_axis")]
            )
            yield (
                int(index),
                qa_row(
                    f"har_cot-{file_name.split('_')[2]}-{int(index):05d}",
                    series,
                    ["acc_x", "acc_y", "acc_z"],
                    self.config.freq,
                    "har_activity",
                    QUESTION,
                    row["label"],
                    choices=LABELS,
                    rationale=row["rationale"],
                ),
            )
