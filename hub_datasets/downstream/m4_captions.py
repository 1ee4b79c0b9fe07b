"""M4 captions (OpenTSLM): M4 competition series with LLM-written captions, for captioning SFT.

Source: OpenTSLM's ``M4TimeSeriesCaptionDatasetv01.zip`` holding ``m4_series_<freq>.csv`` (``id``,
``series``: a JSON list) and ``m4_captions_<freq>.csv`` (``id``, ``caption``) for Monthly, Quarterly
and Weekly series. Series and captions are joined on ``id``; an id present in only one file is an
error. Split: OpenTSLM's, reproduced (all frequencies pooled in file order, 10 % test with
``train_test_split(seed=42)``, then 10 % of all rows as validation with seed 43). Rows are scored by
the ``caption`` metrics (``choices`` empty). No checksum is published; zip CRCs are checked.
"""

from __future__ import annotations

import io
import zipfile

import datasets
import pandas as pd

from ._base import SourceFile, SourceFileError, check_columns
from ._qa import QABuilder, opentslm_splits, parse_number_list, qa_row

ARCHIVE = SourceFile(
    name="M4TimeSeriesCaptionDatasetv01.zip",
    url="https://polybox.ethz.ch/index.php/s/QxLJwrWPBSZm8Y5/download/M4TimeSeriesCaptionDatasetv01.zip",
)
FREQUENCIES = {"Monthly": "MS", "Quarterly": "QS", "Weekly": "W"}
QUESTION = "Describe this {period} time series: its level, trend, seasonality and notable changes."


def _read(archive: zipfile.ZipFile, file_name: str, columns: list[str]) -> pd.DataFrame:
    members = [name for name in archive.namelist() if name.rsplit("/", 1)[-1] == file_name]
    if len(members) != 1:
        raise SourceFileError(f"{ARCHIVE.name}: expected one {file_name}, found {members}")
    frame = pd.read_csv(io.BytesIO(archive.read(members[0])))
    check_columns(frame.columns, columns, file_name)
    return frame


def pooled_rows(archive_path) -> pd.DataFrame:
    """Series joined with captions for every frequency, in file order."""
    parts = []
    with zipfile.ZipFile(archive_path) as archive:
        for period in FREQUENCIES:
            series = _read(archive, f"m4_series_{period}.csv", ["id", "series"])
            captions = _read(archive, f"m4_captions_{period}.csv", ["id", "caption"])
            unmatched = sorted(set(series["id"]) ^ set(captions["id"]))
            if unmatched:
                raise SourceFileError(
                    f"{ARCHIVE.name}: ids {unmatched[:5]} of {period} lack a series or a caption"
                )
            parts.append(series.merge(captions, on="id", validate="one_to_one").assign(period=period))
    return pd.concat(parts, ignore_index=True)


class M4Captions(QABuilder):
    VERSION = datasets.Version("1.0.0")

    def source_files(self):
        return [ARCHIVE]

    def _info(self):
        return self._qa_info(
            __doc__,
            "https://github.com/StanfordBDHG/M4TimeSeriesCaptionDataset",
            "Langer et al., OpenTSLM, 2025; Makridakis et al., The M4 Competition, IJF 2020.",
        )

    def _split_generators(self, dl_manager):
        rows = pooled_rows(self.fetch_sources(dl_manager)[ARCHIVE.name])
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"rows": rows.iloc[indices]})
            for split, indices in opentslm_splits(len(rows), seed=42, val_seed=43).items()
        ]

    def _generate_examples(self, rows):
        for index, row in rows.iterrows():
            series = parse_number_list(row["series"], f"m4_series_{row['period']}.csv id {row['id']}")
            yield (
                int(index),
                qa_row(
                    f"m4-{row['id']}",
                    series.reshape(1, -1),
                    ["value"],
                    FREQUENCIES[row["period"]],
                    "caption",
                    QUESTION.format(period=row["period"].lower()),
                    row["caption"],
                ),
            )
