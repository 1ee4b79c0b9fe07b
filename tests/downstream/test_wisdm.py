from __future__ import annotations

import numpy as np
import pytest

from hub_datasets.downstream._base import SourceFileError
from hub_datasets.downstream.wisdm import LABELS, Wisdm
from hub_datasets.schema import classification_features

from .fixtures import truncate, write_wisdm

SUBJECTS = {
    1600: [("A", 450), ("B", 199), ("S", 200)],  # A: 2 windows (tail of 50 dropped), B: too short, S: 1
    1601: [("O", 400), ("A", 210)],  # O: 2, A: 1
    1602: [("D", 200)],
    1603: [("M", 205), ("K", 401)],
    1604: [("E", 200)],
}


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_wisdm(raw, SUBJECTS)
    return raw


@pytest.mark.parametrize("device", ["phone", "watch"])
def test_windows_labels_and_subject_split(raw, prepare, device):
    ds = prepare(Wisdm, raw, config_name=device)
    assert ds["train"].features == classification_features(LABELS)
    assert sum(split.num_rows for split in ds.values()) == 3 + 3 + 1 + 3 + 1
    assert set(ds["train"].unique("subject")).isdisjoint(ds["test"].unique("subject"))
    assert ds["test"].num_rows > 0 and len(ds["test"].unique("subject")) == 1
    rows = {split: {(r["subject"], LABELS[r["label"]]) for r in ds[split]} for split in ds}
    everything = rows["train"] | rows["test"]
    assert (
        ("1600", "folding") in everything
        and ("1601", "catch") in everything
        and ("1603", "kicking") in everything
    )
    assert ("1600", "jogging") not in everything
    row = ds["train"][0]
    assert np.asarray(row["series"]).shape == (3, 200) and row["freq"] == "20Hz"
    assert row["source"] == f"wisdm_{device}"


def test_values_survive_the_trailing_semicolon(raw, prepare):
    import zipfile

    with zipfile.ZipFile(raw / "wisdm-dataset.zip") as archive:
        first = (
            archive.read("wisdm-dataset/raw/phone/accel/data_1600_accel_phone.txt").decode().splitlines()[0]
        )
    x, y, z = (float(v) for v in first.rstrip(";").split(",")[3:])
    ds = prepare(Wisdm, raw)
    for split in ds.values():
        for row in split:
            if row["id"].endswith("1600-0000"):
                np.testing.assert_allclose([c[0] for c in row["series"]], [x, y, z], rtol=1e-6)
                return
    raise AssertionError("the first window of subject 1600 is missing")


def test_corrupt_archive_fails_cleanly(raw, tmp_path):
    truncate(raw / "wisdm-dataset.zip", 0.9)
    with pytest.raises(SourceFileError, match="wisdm-dataset.zip"):
        Wisdm(cache_dir=str(tmp_path / "cache"), data_dir=str(raw)).download_and_prepare()
    assert not list((tmp_path / "cache").rglob("*.arrow"))
