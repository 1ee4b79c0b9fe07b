from __future__ import annotations

import zipfile

import numpy as np
import pytest

from hub_datasets.downstream._base import SourceFileError
from hub_datasets.downstream.ppg_bp import LABELS, PpgBp
from hub_datasets.schema import classification_features

from .fixtures import write_ppg_bp

SUBJECTS = [
    (2, "Stage 2 hypertension", None, None),
    (3, "Normal", None, None),
    (6, "Prehypertension", "Type 2 Diabetes", None),
    (8, "Normal", None, "cerebral infarction"),
    (9, "Stage 1 hypertension", "Diabetes", None),  # two conditions: no single class
]


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_ppg_bp(raw, SUBJECTS)
    return raw


def test_segments_and_classes(raw, prepare):
    ds = prepare(PpgBp, raw)
    assert ds["train"].features == classification_features(LABELS)
    assert sum(split.num_rows for split in ds.values()) == 12  # 4 single-class subjects x 3 segments
    classes = {r["subject"]: LABELS[r["label"]] for split in ds.values() for r in split}
    assert classes == {"2": "hypertension", "3": "normal", "6": "diabetes", "8": "stroke"}
    assert len(ds["test"].unique("subject")) == 1
    row = next(r for split in ds.values() for r in split if r["id"] == "ppg_bp-8_2")
    with zipfile.ZipFile(raw / "PPG-BP Database.zip") as archive:
        text = archive.read("Data File/0_subject/8_2.txt").decode()
    np.testing.assert_array_equal(row["series"][0], [float(v) for v in text.rstrip("\t").split("\t")])
    assert row["freq"] == "1000Hz" and row["channel_names"] == ["ppg"]


def test_segment_missing_from_the_sheet_is_named(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_ppg_bp(raw, SUBJECTS)
    with zipfile.ZipFile(raw / "PPG-BP Database.zip", "a") as archive:
        archive.writestr("Data File/0_subject/99_1.txt", "1\t2\t")
    with pytest.raises(SourceFileError, match=r"subjects \[99\] missing from PPG-BP dataset.xlsx"):
        PpgBp(cache_dir=str(tmp_path / "cache"), data_dir=str(raw)).download_and_prepare()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "htn",
            {
                "2": "stage_2_hypertension",
                "3": "normal",
                "6": "prehypertension",
                "8": "normal",
                "9": "stage_1_hypertension",
            },
        ),
        (
            "dm",
            {"2": "no_diabetes", "3": "no_diabetes", "6": "diabetes", "8": "no_diabetes", "9": "diabetes"},
        ),
        ("cva", {"2": "no_stroke", "3": "no_stroke", "6": "no_stroke", "8": "stroke", "9": "no_stroke"}),
    ],
)
def test_release_task_configs(raw, prepare, config, expected):
    ds = prepare(PpgBp, raw, config_name=config)
    names = ds["train"].features["label"].names
    assert {r["subject"]: names[r["label"]] for split in ds.values() for r in split} == expected
    assert sum(split.num_rows for split in ds.values()) == 15
