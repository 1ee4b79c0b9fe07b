"""TSQA, HAR-CoT, Sleep-CoT and M4 captions from fixtures in OpenTSLM's published file formats."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hub_datasets.downstream._qa import SCORER_TASKS, opentslm_splits, qa_row
from hub_datasets.downstream.har_cot import HarCot
from hub_datasets.downstream.m4_captions import M4Captions
from hub_datasets.downstream.sleep_cot import LABELS as SLEEP_LABELS
from hub_datasets.downstream.sleep_cot import SleepCot
from hub_datasets.downstream.tsqa import Tsqa
from hub_datasets.schema import QA_FEATURES

from .conftest import error_chain
from .fixtures import frame_csv, json_list, truncate, write_text_zip

RNG = np.random.default_rng(0)


def raw_dir(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    return raw


def test_qa_row_refuses_unknown_task_and_bad_shape():
    with pytest.raises(ValueError, match="has no scorer"):
        qa_row("x", np.zeros((1, 4)), ["v"], "1s", "regression", "q", "a")
    with pytest.raises(ValueError, match=r"\(C, T\)"):
        qa_row("x", np.zeros(4), ["v"], "1s", "caption", "q", "a")


def test_opentslm_splits_partition_the_rows():
    splits = opentslm_splits(50, seed=42, val_seed=43)
    assert {k: len(v) for k, v in splits.items()} == {"train": 40, "validation": 5, "test": 5}
    assert sorted(np.concatenate(list(splits.values()))) == list(range(50))


def test_tsqa(tmp_path, prepare):
    raw = raw_dir(tmp_path)
    rows = [
        {
            "Task": "trend detection",
            "Question": f"Which best describes the trend? A. upward B. downward C. flat D. cyclic (row {i})",
            "Answer": "A. upward",
            "Series": json_list(np.cumsum(RNG.normal(size=24 + i))),
        }
        for i in range(20)
    ]
    (raw / "TSQA.csv").write_text(frame_csv(pd.DataFrame(rows), index=False), encoding="utf-8")
    ds = prepare(Tsqa, raw)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 16, "validation": 2, "test": 2}
    assert ds["train"].features == QA_FEATURES
    row = ds["test"][0]
    index = int(row["id"].split("-")[1])
    np.testing.assert_allclose(row["series"][0], json.loads(rows[index]["Series"]), rtol=1e-6)
    assert row["task"] == "multiple_choice" and row["answer"] == "A. upward"
    assert row["question"].startswith("Which best describes") and row["question"].endswith("trend detection.")


def har_rows(n, label_cycle):
    return pd.DataFrame(
        {
            "x_axis": [str([round(float(v), 5) for v in RNG.normal(size=128)]) for _ in range(n)],
            "y_axis": [str([round(float(v), 5) for v in RNG.normal(size=128)]) for _ in range(n)],
            "z_axis": [str([round(float(v), 5) for v in RNG.normal(size=128)]) for _ in range(n)],
            "label": [label_cycle[i % len(label_cycle)] for i in range(n)],
            "rationale": [
                f"The signal is steady and low in energy ... Answer: {label_cycle[i % len(label_cycle)]}"
                for i in range(n)
            ],
        }
    )


def test_har_cot(tmp_path, prepare):
    raw = raw_dir(tmp_path)
    train = har_rows(5, ["walking_up", "biking"])
    # The published CSVs repeat their header row inside the data.
    text = frame_csv(train, index=False) + "x_axis,y_axis,z_axis,label,rationale\n"
    text += frame_csv(har_rows(2, ["lying"]), index=False, header=False)
    members = {
        "har_cot_train_cot.csv": text,
        "har_cot_val_cot.csv": frame_csv(har_rows(2, ["sitting"]), index=False),
        "har_cot_test_cot.csv": frame_csv(har_rows(3, ["running", "walking_down"]), index=False),
    }
    write_text_zip(raw / "har_cot.zip", members)
    ds = prepare(HarCot, raw)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 7, "validation": 2, "test": 3}
    row = ds["train"][0]
    assert row["task"] == "har_activity" and row["answer"] == "walking_up" and len(row["choices"]) == 8
    assert row["rationale"].endswith("Answer: walking_up") and row["freq"] == "50Hz"
    assert np.asarray(row["series"]).shape == (3, 128)
    assert ds["train"]["answer"][-2:] == ["lying", "lying"]
    truncate(raw / "har_cot.zip", 0.7)
    with pytest.raises(ValueError, match="har_cot.zip"):
        HarCot(cache_dir=str(tmp_path / "cache2"), data_dir=str(raw)).download_and_prepare()


def test_har_cot_unknown_label_is_named(tmp_path):
    raw = raw_dir(tmp_path)
    members = {
        f"har_cot_{s}_cot.csv": frame_csv(har_rows(2, ["jumping"]), index=False)
        for s in ("train", "val", "test")
    }
    write_text_zip(raw / "har_cot.zip", members)
    with pytest.raises(Exception) as raised:
        HarCot(cache_dir=str(tmp_path / "cache"), data_dir=str(raw)).download_and_prepare()
    assert "unknown label 'jumping'" in error_chain(raised.value)
    assert not list((tmp_path / "cache").rglob("*.arrow"))


def test_sleep_cot(tmp_path, prepare):
    raw = raw_dir(tmp_path)
    labels = ["Wake", "REM sleep"] * 10
    frame = pd.DataFrame(
        {
            "time_series": [str([np.round(RNG.normal(size=15000), 3).tolist()]) for _ in labels],
            "label": labels,
            "rationale": [f"Alpha activity dominates ... Answer: {label}" for label in labels],
        }
    )
    (raw / "sleep_cot.csv").write_text(frame_csv(frame, index=False))
    ds = prepare(SleepCot, raw)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 16, "validation": 2, "test": 2}
    assert sorted(ds["test"]["answer"]) == ["REM sleep", "Wake"]  # stratified
    row = ds["validation"][0]
    assert row["freq"] == "500Hz" and len(row["series"][0]) == 15000 and row["choices"] == list(SLEEP_LABELS)
    assert row["task"] == "sleep_stage"


def test_m4_captions(tmp_path, prepare):
    raw = raw_dir(tmp_path)
    members = {}
    for period, count in (("Monthly", 6), ("Quarterly", 2), ("Weekly", 2)):
        ids = [f"{period[0]}{i + 1}" for i in range(count)]
        series = pd.DataFrame({"id": ids, "series": [json_list(RNG.normal(1000, 50, size=30)) for _ in ids]})
        captions = pd.DataFrame(
            {"id": ids[::-1], "caption": [f"The {period.lower()} series {i} rises." for i in ids[::-1]]}
        )
        members[f"m4_series_{period}.csv"] = frame_csv(series, index=False)
        members[f"m4_captions_{period}.csv"] = frame_csv(captions, index=False)
    write_text_zip(raw / "M4TimeSeriesCaptionDatasetv01.zip", members)
    ds = prepare(M4Captions, raw)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 8, "validation": 1, "test": 1}
    rows = [row for split in ds.values() for row in split]
    by_id = {row["id"]: row for row in rows}
    assert by_id["m4-Q2"]["answer"] == "The quarterly series Q2 rises." and by_id["m4-Q2"]["freq"] == "QS"
    assert by_id["m4-W1"]["freq"] == "W" and by_id["m4-M3"]["choices"] == []
    assert {row["task"] for row in rows} == {"caption"} <= set(SCORER_TASKS)
