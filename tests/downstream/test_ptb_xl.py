from __future__ import annotations

import numpy as np
import pytest
import wfdb

from hub_datasets.downstream.ptb_xl import LABELS, PtbXl, superclasses
from hub_datasets.schema import classification_features

from .fixtures import PTB_XL_LEADS, truncate, write_ptb_xl

RECORDS = [
    (1, "{'NORM': 100.0, 'SR': 0.0}", 3),
    (2, "{'AMI': 80.0, 'SR': 0.0}", 9),
    (3, "{'NDT': 100.0}", 10),
    (4, "{'CLBBB': 100.0, 'LVH': 50.0}", 1),  # two superclasses: not single-label
    (5, "{'SR': 0.0}", 2),  # rhythm only: no superclass
    (1001, "{'LVH': 100.0}", 10),
]


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_ptb_xl(raw, RECORDS)
    return raw


def test_superclasses_parse_the_literal_not_eval():
    mapping = {"NORM": "NORM", "AMI": "MI"}
    assert superclasses("{'NORM': 100.0, 'SR': 0.0}", mapping) == {"NORM"}
    with pytest.raises(ValueError):
        superclasses("__import__('os').getcwd()", mapping)


def test_schema_folds_and_labels(raw, prepare):
    ds = prepare(PtbXl, raw)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 1, "validation": 1, "test": 2}
    assert ds["test"].features == classification_features(LABELS)
    names = ds["test"].features["label"].names
    assert [names[i] for i in ds["test"]["label"]] == ["STTC", "HYP"]
    assert names[ds["validation"][0]["label"]] == "MI"
    row = ds["train"][0]
    assert row["channel_names"] == PTB_XL_LEADS and row["freq"] == "100Hz" and row["subject"] == "15001"
    assert np.asarray(row["series"]).shape == (12, 1000)


def test_values_match_wfdb(raw, prepare, tmp_path):
    import zipfile

    with zipfile.ZipFile(next(raw.glob("*.zip"))) as archive:
        archive.extractall(tmp_path / "check")
    signal, _ = wfdb.rdsamp(
        str(next((tmp_path / "check").glob("*/records100/00000/00001_lr.hea")).with_suffix(""))
    )
    ds = prepare(PtbXl, raw)
    np.testing.assert_allclose(np.asarray(ds["train"][0]["series"]), signal.T, atol=1e-6)


def test_truncated_archive_fails_cleanly(raw, tmp_path):
    archive = next(raw.glob("*.zip"))
    good = archive.read_bytes()
    truncate(archive, 0.8)
    with pytest.raises(ValueError, match=archive.name):
        PtbXl(cache_dir=str(tmp_path / "cache"), data_dir=str(raw)).download_and_prepare()
    assert not list((tmp_path / "cache").rglob("*.arrow"))
    archive.write_bytes(good)
    builder = PtbXl(cache_dir=str(tmp_path / "cache"), data_dir=str(raw))
    builder.download_and_prepare()
    assert builder.as_dataset()["test"].num_rows == 2
