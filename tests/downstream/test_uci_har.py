from __future__ import annotations

import hashlib

import pytest

from hub_datasets.downstream._base import SourceFileError
from hub_datasets.downstream.uci_har import LABELS, UciHar
from hub_datasets.schema import classification_features

from .fixtures import truncate, write_uci_har

TRAIN = [(1, 1), (1, 2), (3, 4), (3, 6)]
TEST = [(2, 5), (2, 3), (4, 1)]


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_uci_har(raw, {"train": TRAIN, "test": TEST})
    return raw


def test_schema_splits_and_labels(raw, prepare):
    ds = prepare(UciHar, raw)
    assert {name: len(split) for name, split in ds.items()} == {"train": 4, "test": 3}
    assert ds["train"].features == classification_features(LABELS)
    row = ds["train"][3]
    assert len(row["series"]) == 6 and all(len(channel) == 128 for channel in row["series"])
    assert row["channel_names"] == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert (row["freq"], row["subject"], row["source"]) == ("50Hz", "3", "uci_har")
    assert ds["train"].features["label"].int2str(row["label"]) == "laying"
    assert [ds["test"].features["label"].int2str(x) for x in ds["test"]["label"]] == [
        "standing",
        "walking_downstairs",
        "walking",
    ]


def test_reads_the_published_numbers(raw, prepare, tmp_path):
    import zipfile

    import numpy as np

    with zipfile.ZipFile(raw / "UCI HAR Dataset.zip") as archive:
        text = archive.read("UCI HAR Dataset/test/Inertial Signals/body_gyro_z_test.txt").decode()
    expected = np.array([float(v) for v in text.splitlines()[1].split()], dtype=np.float32)
    ds = prepare(UciHar, raw)
    np.testing.assert_array_equal(np.asarray(ds["test"][1]["series"][5], dtype=np.float32), expected)


def test_truncated_archive_is_named_and_leaves_no_dataset(raw, tmp_path):
    good = (raw / "UCI HAR Dataset.zip").read_bytes()
    truncate(raw / "UCI HAR Dataset.zip")
    builder = UciHar(cache_dir=str(tmp_path / "cache"), data_dir=str(raw))
    with pytest.raises(SourceFileError, match="UCI HAR Dataset.zip"):
        builder.download_and_prepare()
    cache = tmp_path / "cache"
    assert not list(cache.rglob("dataset_info.json")) and not list(cache.rglob("*.arrow"))
    (raw / "UCI HAR Dataset.zip").write_bytes(good)
    fresh = UciHar(cache_dir=str(cache), data_dir=str(raw))
    fresh.download_and_prepare()
    assert fresh.as_dataset()["train"].num_rows == 4


def test_wrong_checksum_is_named(raw, tmp_path):
    builder = UciHar(
        cache_dir=str(tmp_path / "cache"), data_dir=str(raw), checksums={"UCI HAR Dataset.zip": "0" * 64}
    )
    with pytest.raises(SourceFileError, match="UCI HAR Dataset.zip.*does not match"):
        builder.download_and_prepare()
    assert not list((tmp_path / "cache").rglob("*.arrow"))
    digest = hashlib.sha256((raw / "UCI HAR Dataset.zip").read_bytes()).hexdigest()
    ok = UciHar(
        cache_dir=str(tmp_path / "cache"), data_dir=str(raw), checksums={"UCI HAR Dataset.zip": digest}
    )
    ok.download_and_prepare()
    assert ok.as_dataset()["test"].num_rows == 3


def test_missing_file_says_where_to_get_it(tmp_path):
    builder = UciHar(cache_dir=str(tmp_path / "cache"), data_dir=str(tmp_path))
    with pytest.raises(SourceFileError, match="UCI HAR Dataset.zip: not found.*archive.ics.uci.edu"):
        builder.download_and_prepare()


def test_download_path_uses_the_published_url(raw, tmp_path, monkeypatch):
    """Without data_dir the builder asks the DownloadManager for the URL (served here from the fixture)."""
    import datasets

    requested = []

    def fake_download(self, url_or_urls):
        requested.append(url_or_urls)
        return {name: str(raw / name) for name in url_or_urls}

    monkeypatch.setattr(datasets.DownloadManager, "download", fake_download)
    builder = UciHar(cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    assert requested == [{"UCI HAR Dataset.zip": builder.source_files()[0].url}]
    assert builder.as_dataset()["train"].num_rows == 4
