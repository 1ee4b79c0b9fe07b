"""Reader of the authors' released corpus format, on a fixture written in that format."""

import hashlib
import os
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hub_datasets.schema import CORPUS_FEATURES
from hub_datasets.slip_corpus import ReleasedSlipCorpus
from hub_datasets.sources import SourceFileError


@pytest.fixture
def release(tmp_path):
    root = tmp_path / "release"
    root.mkdir()
    columns = ("time_series", "caption0", "caption1", "caption2", "caption3", "category", "dataset")
    univariate = (
        [1.0, 2.0, 3.0, 4.0],
        "rises steadily",
        "a ramp",
        "",
        "linear increase",
        "synthetic",
        "ramps",
    )
    multivariate = ([[0.0, 1.0, 0.0], [5.0, 5.0, None]], "two channels, one flat", None, "second caption",
                    "third caption", "health", "vitals")  # fmt: skip
    pd.DataFrame([univariate], columns=columns).to_parquet(root / "part-0.parquet")
    pd.DataFrame([multivariate], columns=columns).to_parquet(root / "part-1.parquet")
    pd.DataFrame(
        {
            "Domain": ["synthetic", "healthcare"],
            "Dataset": ["ramps", "vitals"],
            "Description": ["Synthetic ramps.", "Vital signs of patients."],
            "patch_size": ["4", "8"],
        }
    ).to_csv(root / "meta.csv", index=False)
    return root


def _build(tmp_path, data_dir, **config):
    builder = ReleasedSlipCorpus(cache_dir=str(tmp_path / "cache"), data_dir=str(data_dir), **config)
    builder.download_and_prepare()
    return builder.as_dataset("train")


def test_release_maps_to_corpus_schema(tmp_path, release):
    dataset = _build(tmp_path, release)
    assert dataset.features == CORPUS_FEATURES
    assert dataset["id"] == [
        "part-0/0#caption0", "part-0/0#caption1", "part-0/0#caption3",
        "part-1/0#caption0", "part-1/0#caption2", "part-1/0#caption3",
    ]  # fmt: skip
    first, last = dataset[0], dataset[-1]
    assert first["series"] == [[1.0, 2.0, 3.0, 4.0]] and first["channel_names"] == [""]
    assert first["caption"] == "rises steadily" and first["caption_semantic"] == "Synthetic ramps."
    assert first["domain"] == "synthetic" and first["source"] == "slip/ramps"
    series = np.asarray(last["series"], dtype=np.float32)
    assert series.shape == (2, 3) and np.isnan(series[1, 2])
    assert last["caption"] == "third caption" and last["caption_statistical"] == ""


def test_caption_columns_option(tmp_path, release):
    assert _build(tmp_path, release, caption_columns=("caption0",))["caption"] == [
        "rises steadily",
        "two channels, one flat",
    ]
    with pytest.raises(ValueError, match="caption_columns"):
        ReleasedSlipCorpus(data_dir=str(release), caption_columns=("caption9",))


def test_missing_meta_is_named(tmp_path, release):
    (release / "meta.csv").unlink()
    with pytest.raises(SourceFileError, match="meta.csv"):
        _build(tmp_path, release)


def test_dataset_without_meta_row_is_named(tmp_path, release):
    meta = pd.read_csv(release / "meta.csv").iloc[:1]
    meta.to_csv(release / "meta.csv", index=False)
    with pytest.raises(SourceFileError, match=r"\['vitals'\] have no row in meta.csv"):
        _build(tmp_path, release)
    assert not list((tmp_path / "cache").rglob("*.arrow"))


def test_corrupt_parquet_is_named(tmp_path, release):
    (release / "part-9.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(SourceFileError, match="part-9.parquet"):
        _build(tmp_path, release)


def test_missing_column_is_named(tmp_path, release):
    pd.DataFrame({"time_series": [[1.0, 2.0]], "dataset": ["ramps"]}).to_parquet(release / "part-0.parquet")
    with pytest.raises(SourceFileError, match=r"part-0.parquet lacks columns \['caption0'"):
        _build(tmp_path, release)


def test_data_dir_is_required(tmp_path):
    with pytest.raises(ValueError, match="data_dir"):
        ReleasedSlipCorpus(cache_dir=str(tmp_path)).download_and_prepare()


def _rewrite_caption(path, caption):
    """Rewrite a release file with another first caption, keeping its timestamps (as bit rot or copies do)."""
    times = (path.stat().st_atime_ns, path.stat().st_mtime_ns)
    frame = pd.read_parquet(path)
    frame.loc[0, "caption0"] = caption
    frame.to_parquet(path)
    os.utime(path, ns=times)


def test_a_changed_release_is_read_afresh(tmp_path, release):
    assert _build(tmp_path, release)["caption"][0] == "rises steadily"
    _rewrite_caption(release / "part-0.parquet", "falls steadily")
    assert _build(tmp_path, release)["caption"][0] == "falls steadily"


def test_page_checksums_are_verified_where_present(tmp_path, release):
    path = release / "part-0.parquet"
    table = pq.read_table(path)
    pq.write_table(table, path, write_page_checksum=True, compression="none")
    data = bytearray(path.read_bytes())
    offset = data.index(b"rises steadily")  # inside a data page of caption0
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(Exception) as raised:  # datasets wraps errors raised while generating rows
        _build(tmp_path, release)
    error = raised.value
    while not isinstance(error, SourceFileError) and error is not None:
        error = error.__cause__
    assert error is not None and re.search("part-0.parquet.*CRC", str(error))


def test_checksums_pin_release_files(tmp_path, release):
    digest = hashlib.sha256((release / "part-0.parquet").read_bytes()).hexdigest()
    assert len(_build(tmp_path, release, checksums={"part-0.parquet": digest})) == 6
    with pytest.raises(SourceFileError, match=r"part-1.parquet: SHA-256 .* does not match the 0{64}"):
        _build(tmp_path, release, checksums={"part-1.parquet": "0" * 64})
    with pytest.raises(
        ValueError, match=r"\['part-7.parquet'\].*'meta.csv', 'part-0.parquet', 'part-1.parquet'"
    ):
        _build(tmp_path, release, checksums={"part-7.parquet": digest})
