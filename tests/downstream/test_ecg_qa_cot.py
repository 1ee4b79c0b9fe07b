from __future__ import annotations

import io
import tarfile

import numpy as np
import pandas as pd
import pytest

from hub_datasets.downstream._base import SourceFileError
from hub_datasets.downstream.ecg_qa_cot import EcgQaCot, parse_ecg_id
from hub_datasets.schema import QA_FEATURES

from .fixtures import PTB_XL_LEADS, frame_csv, truncate, write_ptb_xl


def cot_table(ecg_ids):
    return pd.DataFrame(
        {
            "question": ["Does this ECG show symptoms of non-diagnostic t abnormalities?"] * len(ecg_ids),
            "answer": ["yes", "no", "none"][: len(ecg_ids)],
            "template_id": [1] * len(ecg_ids),
            "question_type": ["single-verify"] * len(ecg_ids),
            "clinical_context": ["76-year-old female, recorded with a CS-12 device."]
            + [np.nan] * (len(ecg_ids) - 1),
            "rationale": ["Lead V5 shows flattened T waves ... Answer: yes"] * len(ecg_ids),
            "ecg_id": [f"[{i}]" for i in ecg_ids],
        }
    )


def write_cot(raw, tables):
    with tarfile.open(raw / "ecg_qa_cot.tar.gz", "w:gz") as archive:
        for name, frame in tables.items():
            data = frame_csv(frame, index=False).encode()
            info = tarfile.TarInfo(f"ecg_qa_cot/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_ptb_xl(raw, [(1, "{'NORM': 100.0}", 1), (2, "{'NDT': 100.0}", 9), (3, "{'AMI': 100.0}", 10)])
    write_cot(
        raw,
        {
            "ecg_qa_cot_train.csv": cot_table([1, 2]),
            "ecg_qa_cot_val.csv": cot_table([3]),
            "ecg_qa_cot_test.csv": cot_table([2, 3, 1]),
        },
    )
    return raw


def test_parse_ecg_id():
    assert parse_ecg_id("[12345]") == 12345 and parse_ecg_id(7) == 7
    with pytest.raises(ValueError, match="one record number"):
        parse_ecg_id("[1, 2]")


def test_rows_join_the_ptb_xl_signal(raw, prepare):
    ds = prepare(EcgQaCot, raw)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 2, "validation": 1, "test": 3}
    assert ds["train"].features == QA_FEATURES
    row = ds["test"][0]
    assert row["task"] == "ecg_qa" and row["answer"] == "yes" and row["channel_names"] == PTB_XL_LEADS
    assert np.asarray(row["series"]).shape == (12, 1000) and row["freq"] == "100Hz"
    assert row["question"].startswith("Clinical context: 76-year-old") and row["rationale"].endswith(
        "Answer: yes"
    )
    assert ds["test"][1]["question"].startswith("Clinical context: 12-lead ECG recording.")


def test_truncated_cot_archive_is_named(raw, tmp_path):
    truncate(raw / "ecg_qa_cot.tar.gz", 0.6)
    with pytest.raises(SourceFileError, match="ecg_qa_cot.tar.gz"):
        EcgQaCot(cache_dir=str(tmp_path / "cache"), data_dir=str(raw)).download_and_prepare()
    assert not list((tmp_path / "cache").rglob("*.arrow"))
