"""Download verification shared by every builder: trust on first use, checksum names, hashed cache names."""

from __future__ import annotations

import hashlib
import json
import shutil

import datasets
import pytest

from hub_datasets.downstream._base import TRUST_DIR, SourceFileError
from hub_datasets.downstream.uci_har import ARCHIVE, UciHar

from .fixtures import truncate, write_uci_har

NAME = "UCI HAR Dataset.zip"
WINDOWS = {"train": [(1, 1), (3, 4)], "test": [(2, 5)]}


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The file the fake server hands out, stored under a hashed name as the datasets download cache does."""
    path = tmp_path / "server" / "5f1c0e9a7b"
    path.parent.mkdir()

    def fake_download(self, url_or_urls):
        return {name: str(path) for name in url_or_urls}

    monkeypatch.setattr(datasets.DownloadManager, "download", fake_download)
    return path


def publish(served, seed: int) -> str:
    """Serve a fresh UCI-HAR archive (its content set by ``seed``); return its SHA-256."""
    built = served.parent / "build"
    built.mkdir(exist_ok=True)
    shutil.move(write_uci_har(built, WINDOWS, seed=seed), served)
    return hashlib.sha256(served.read_bytes()).hexdigest()


def build(tmp_path, run: str, **config) -> datasets.DatasetDict:
    """Prepare into a fresh dataset cache per run; downloads (and trust records) share one folder."""
    builder = UciHar(cache_dir=str(tmp_path / run), **config)
    builder.download_and_prepare(
        download_config=datasets.DownloadConfig(cache_dir=str(tmp_path / "downloads"))
    )
    return builder.as_dataset()


def records(tmp_path) -> list[dict]:
    return [
        json.loads(path.read_text()) for path in sorted((tmp_path / "downloads" / TRUST_DIR).glob("*.json"))
    ]


def test_first_download_is_recorded_and_a_changed_one_refused(tmp_path, served):
    first = publish(served, seed=0)
    assert build(tmp_path, "run1")["train"].num_rows == 2
    assert records(tmp_path) == [{"name": NAME, "url": ARCHIVE.url, "sha256": first}]
    assert build(tmp_path, "run2")["test"].num_rows == 1  # the same file again: accepted

    second = publish(served, seed=1)
    with pytest.raises(
        SourceFileError, match=f"{NAME}: SHA-256 {second} differs from {first}.*first downloaded"
    ):
        build(tmp_path, "run3")
    assert not list((tmp_path / "run3").rglob("*.arrow"))

    assert build(tmp_path, "run4", checksums={NAME: second})["train"].num_rows == 2
    assert records(tmp_path)[0]["sha256"] == first  # a pinned digest does not replace the record


def test_deleting_the_record_trusts_the_new_file(tmp_path, served):
    publish(served, seed=0)
    build(tmp_path, "run1")
    second = publish(served, seed=1)
    with pytest.raises(SourceFileError) as raised:
        build(tmp_path, "run2")
    record = next((tmp_path / "downloads" / TRUST_DIR).glob("*.json"))
    assert str(record) in str(raised.value) and str(served) in str(raised.value)
    record.unlink()
    build(tmp_path, "run3")
    assert records(tmp_path)[0]["sha256"] == second


def test_unreadable_record_is_named(tmp_path, served):
    publish(served, seed=0)
    build(tmp_path, "run1")
    record = next((tmp_path / "downloads" / TRUST_DIR).glob("*.json"))
    record.write_text("{not json")
    with pytest.raises(SourceFileError, match="is unreadable.*delete it"):
        build(tmp_path, "run2")


def test_truncated_download_under_a_hashed_name_is_named(tmp_path, served):
    publish(served, seed=0)
    truncate(served)
    with pytest.raises(SourceFileError, match=f"{NAME}: not a readable zip archive"):
        build(tmp_path, "run1")
    assert records(tmp_path) == []  # a file that fails its checks is never trusted


def test_files_from_data_dir_are_not_recorded(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_uci_har(raw, WINDOWS)
    build(tmp_path, "run1", data_dir=str(raw))
    assert not (tmp_path / "downloads" / TRUST_DIR).exists()


def test_checksums_naming_no_file_are_refused(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_uci_har(raw, WINDOWS)
    with pytest.raises(
        ValueError, match=r"checksums= names \['UCI HAR.zip'\].*files are \['UCI HAR Dataset.zip'\]"
    ):
        build(tmp_path, "run1", data_dir=str(raw), checksums={"UCI HAR.zip": "0" * 64})
