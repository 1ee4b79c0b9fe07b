from __future__ import annotations

import math

import numpy as np
import pytest

from hub_datasets.downstream._base import SourceFileError
from hub_datasets.downstream.studentlife import LABELS, STREAMS, StudentLife
from hub_datasets.schema import classification_features

from .fixtures import truncate, write_studentlife

T0 = 1364356800  # 2013-03-27 04:00 UTC, a whole minute


def student(levels):
    """Sensing over the hour before T0 + 60 min and one stress answer per level (None: unanswered)."""
    activity = [(T0 + s, 1 if s < 600 else 0) for s in range(0, 3600, 3)] + [
        (T0 + 1800 + s, 3) for s in range(0, 60, 3)
    ]
    audio = [(T0 + s, 2) for s in range(0, 1200, 2)]
    ema = [
        {
            "location": "43.70,-72.29",
            "resp_time": T0 + 3600 + 60 * i,
            **({} if level is None else {"level": str(level)}),
        }
        for i, level in enumerate(levels)
    ]
    return {
        "activity": activity,
        "audio": audio,
        "conversation": [(T0 + 600, T0 + 899)],
        "dark": [(T0 - 7200, T0 + 120)],
        "phonelock": [],
        "phonecharge": [(T0 + 3000, T0 + 7200)],
        "ema": ema,
    }


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_studentlife(
        raw, {"u00": student([4, 1, None]), "u01": student([3, 5]), "u02": student([2]), "u03": student([])}
    )
    return raw


def test_windows_channels_and_levels(raw, prepare):
    ds = prepare(StudentLife, raw, window_minutes=60)
    assert ds["train"].features == classification_features(LABELS)
    assert sum(split.num_rows for split in ds.values()) == 5  # answered responses of students with answers
    rows = {row["id"]: row for split in ds.values() for row in split}
    assert {k: LABELS[r["label"]] for k, r in rows.items()} == {
        "studentlife-u00-0000": "not_stressed",
        "studentlife-u00-0001": "a_little_stressed",
        "studentlife-u01-0000": "stressed",
        "studentlife-u01-0001": "not_stressed",
        "studentlife-u02-0000": "stressed",
    }
    window = np.asarray(rows["studentlife-u00-0000"]["series"], dtype=np.float64)  # minutes T0 .. T0+59
    assert window.shape == (len(STREAMS), 60) and rows["studentlife-u00-0000"]["freq"] == "1min"
    channel = dict(zip(STREAMS, window))
    assert channel["activity"][0] == 1 and channel["activity"][10] == 0 and channel["activity"][30] == 0
    assert channel["audio"][0] == 2 and math.isnan(channel["audio"][20])
    np.testing.assert_array_equal(np.flatnonzero(channel["conversation"]), np.arange(10, 15))
    np.testing.assert_array_equal(np.flatnonzero(channel["dark"]), [0, 1, 2])
    assert (
        channel["phonelock"].sum() == 0
        and channel["phonecharge"][50:].all()
        and not channel["phonecharge"][:50].any()
    )
    assert set(ds["train"].unique("subject")).isdisjoint(ds["test"].unique("subject"))


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_bzip2_archive_is_named(raw, tmp_path, keep):
    truncate(raw / "dataset.tar.bz2", keep)
    builder = StudentLife(cache_dir=str(tmp_path / "cache"), data_dir=str(raw), window_minutes=60)
    with pytest.raises(SourceFileError, match="dataset.tar.bz2: not a readable tar archive"):
        builder.download_and_prepare()
    assert not list((tmp_path / "cache").rglob("*.arrow"))


def test_corrupt_bzip2_archive_is_named(raw, tmp_path):
    archive = raw / "dataset.tar.bz2"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(SourceFileError, match="dataset.tar.bz2: not a readable tar archive"):
        StudentLife(cache_dir=str(tmp_path / "cache"), data_dir=str(raw)).download_and_prepare()
