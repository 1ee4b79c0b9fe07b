from __future__ import annotations

import math

import numpy as np
import pytest

from hub_datasets.downstream.beijing_aqi import CHANNELS, LABELS, BeijingAqi, aqi_class
from hub_datasets.schema import classification_features

from .fixtures import write_prsa


def test_breakpoints_are_inclusive_upper_bounds():
    assert [LABELS[aqi_class(v)] for v in (0, 35, 35.1, 75, 115, 150, 150.5, 600)] == [
        "excellent",
        "excellent",
        "good",
        "good",
        "lightly_polluted",
        "moderately_polluted",
        "heavily_polluted",
        "heavily_polluted",
    ]
    with pytest.raises(ValueError, match="finite non-negative"):
        aqi_class(float("nan"))


def test_site_days_labels_and_time_split(tmp_path, prepare):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_prsa(raw, {"Aotizhongxin": [10, 50, 100, None, 400], "Changping": [140, 20, 80, 30, 120]})
    ds = prepare(BeijingAqi, raw)
    assert ds["train"].features == classification_features(LABELS)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 7, "test": 2}  # 4 train days, 1 test day
    assert sorted(ds["test"]["id"]) == [
        "beijing_aqi-Aotizhongxin-2013-03-05",
        "beijing_aqi-Changping-2013-03-05",
    ]
    labels = {r["id"]: LABELS[r["label"]] for split in ds.values() for r in split}
    assert labels["beijing_aqi-Aotizhongxin-2013-03-05"] == "heavily_polluted"
    assert labels["beijing_aqi-Changping-2013-03-01"] == "moderately_polluted"
    row = ds["train"][0]
    assert (
        row["channel_names"] == list(CHANNELS)
        and row["freq"] == "h"
        and np.asarray(row["series"]).shape == (11, 24)
    )
    assert math.isnan(row["series"][CHANNELS.index("O3")][5])
