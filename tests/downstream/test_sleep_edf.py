from __future__ import annotations

import hashlib

import numpy as np
import pyedflib
import pytest

from hub_datasets.downstream._base import SourceFileError
from hub_datasets.downstream.sleep_edf import LABELS, SleepEdf, hypnogram_epochs, trim_wake
from hub_datasets.schema import classification_features

from .fixtures import write_sleep_edf_night

NIGHTS = {
    # subjects 13 and 36 have one night each in the study (published file names)
    ("SC4131E0-PSG.edf", "SC4131EC-Hypnogram.edf"): [
        (0, 120, "Sleep stage W"),
        (120, 30, "Sleep stage 1"),
        (150, 60, "Sleep stage 2"),
        (210, 30, "Sleep stage 3"),
        (240, 30, "Sleep stage 4"),
        (270, 30, "Movement time"),
        (300, 30, "Sleep stage R"),
        (330, 90, "Sleep stage W"),
        (420, 600, "Sleep stage ?"),
    ],
    ("SC4362F0-PSG.edf", "SC4362FC-Hypnogram.edf"): [
        (0, 30, "Sleep stage W"),
        (30, 60, "Sleep stage 2"),
        (90, 30, "Sleep stage R"),
        (120, 60, "Sleep stage W"),
    ],
}


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for seed, ((psg, hypnogram), stages) in enumerate(NIGHTS.items()):
        write_sleep_edf_night(raw, psg, hypnogram, stages, seconds=450, seed=seed)
    return raw


def sha1s(raw):
    return {path.name: hashlib.sha1(path.read_bytes()).hexdigest() for path in raw.glob("*.edf")}


def test_epochs_from_annotations():
    epochs = hypnogram_epochs(
        [0.0, 60.0, 90.0], [60.0, 30.0, 60.0], ["Sleep stage W", "Sleep stage 4", "Sleep stage ?"]
    )
    assert epochs == [(0, "W"), (30, "W"), (60, "N3")]
    with pytest.raises(ValueError, match="Lights off"):
        hypnogram_epochs([0.0], [30.0], ["Lights off"])
    assert trim_wake([(0, "W"), (30, "W"), (60, "N2"), (90, "W"), (120, "W")], 30) == [
        (30, "W"),
        (60, "N2"),
        (90, "W"),
    ]


def test_schema_split_and_stages(raw, prepare):
    ds = prepare(SleepEdf, raw, subjects=(13, 36), wake_margin_minutes=1, checksums=sha1s(raw))
    assert ds["train"].features == classification_features(LABELS)
    # two subjects: one train, one test; each night's epochs within 1 min of sleep, scored, inside the signal
    counts = sorted(split.num_rows for split in ds.values())
    assert counts == [6, 10]
    by_subject = {split.unique("subject")[0]: split for split in ds.values()}
    night0 = by_subject["13"]
    assert [LABELS[i] for i in night0["label"]] == ["W", "W", "N1", "N2", "N2", "N3", "N3", "REM", "W", "W"]
    assert [LABELS[i] for i in by_subject["36"]["label"]] == ["W", "N2", "N2", "REM", "W", "W"]
    row = night0[2]
    assert row["channel_names"] == ["Fpz-Cz", "Pz-Oz"] and row["freq"] == "100Hz"
    with pyedflib.EdfReader(str(raw / "SC4131E0-PSG.edf")) as reader:
        pz = reader.readSignal(1)
    np.testing.assert_allclose(row["series"][1], pz[12000:15000], rtol=1e-6)


def test_published_sha1_rejects_other_files(raw, tmp_path):
    with pytest.raises(SourceFileError, match="SC4131E0-PSG.edf: sha1 .* does not match"):
        SleepEdf(
            cache_dir=str(tmp_path / "cache"), data_dir=str(raw), subjects=(13, 36)
        ).download_and_prepare()
    assert not list((tmp_path / "cache").rglob("*.arrow"))


def test_unknown_subject_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown sleep-cassette subjects \[99\]"):
        SleepEdf(cache_dir=str(tmp_path), subjects=(0, 99)).download_and_prepare()
