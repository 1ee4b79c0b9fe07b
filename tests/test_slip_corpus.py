"""Reader of the authors' released corpus format, on a fixture written in that format."""

import numpy as np
import pandas as pd
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
