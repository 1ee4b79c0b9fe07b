from __future__ import annotations

import numpy as np
import pytest

from hub_datasets.downstream._base import SourceFileError
from hub_datasets.downstream.asphalt_obstacles import AsphaltObstacles

from .fixtures import ts_file, write_text_zip

RNG = np.random.default_rng(0)


def write_archive(raw, train_classes=("1", "2", "3", "4")):
    train = [9.8 + RNG.normal(size=n) for n in (120, 200, 95, 310, 150)]
    test = [9.8 + RNG.normal(size=n) for n in (180, 101)]
    write_text_zip(
        raw / "AsphaltObstacles.zip",
        {
            "AsphaltObstacles_TRAIN.ts": ts_file(
                "AsphaltObstacles", train, ["1", "2", "3", "4", "2"], list(train_classes)
            ),
            "AsphaltObstacles_TEST.ts": ts_file("AsphaltObstacles", test, ["4", "1"], ["1", "2", "3", "4"]),
        },
    )
    return train, test


def test_variable_length_series_and_declared_classes(tmp_path, prepare):
    raw = tmp_path / "raw"
    raw.mkdir()
    train, test = write_archive(raw)
    ds = prepare(AsphaltObstacles, raw)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 5, "test": 2}
    assert ds["train"].features["label"].names == ["1", "2", "3", "4"]
    assert [len(row["series"][0]) for row in ds["train"]] == [120, 200, 95, 310, 150]
    np.testing.assert_allclose(ds["test"][0]["series"][0], test[0], rtol=1e-5)
    assert [ds["test"].features["label"].int2str(v) for v in ds["test"]["label"]] == ["4", "1"]
    assert ds["test"][1]["freq"] == "100Hz" and ds["test"][1]["channel_names"] == ["acc_magnitude"]


def test_inconsistent_class_declarations_are_refused(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_archive(raw, train_classes=("1", "2", "3", "4", "5"))
    with pytest.raises(SourceFileError, match="declare different classes"):
        AsphaltObstacles(cache_dir=str(tmp_path / "cache"), data_dir=str(raw)).download_and_prepare()
