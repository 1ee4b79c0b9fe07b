"""Pretraining corpus: config checks, determinism to the byte, schema, and no evaluation data inside."""

import hashlib

import numpy as np
import pytest

from hub_datasets.captions import compose_caption
from hub_datasets.corpus import DEFAULT_SOURCE_WEIGHTS, SlipCorpus, shard_plan, source_counts, source_table
from hub_datasets.evaluation_sets import BasicMotions, Ecg200, Ecg5000
from hub_datasets.export import export_dataset
from hub_datasets.sources import SOURCES, UCI_HAR_TEST_SUBJECTS, UCI_HAR_TRAIN_SUBJECTS, hapt_recordings
from processing_slip.frequency import parse_frequency

NGRAM = 16
REAL_HEAVY = {"synthetic": 0.1, "hapt_train": 0.4, "daphnet": 0.1, "physiology": 0.15, "simulated_physiology": 0.1,
              "forecasting": 0.15}  # fmt: skip


def _build(tmp_path, name="cache", **config):
    builder = SlipCorpus(cache_dir=str(tmp_path / name), **config)
    builder.download_and_prepare()
    return builder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _build(
        tmp_path_factory.mktemp("corpus"), size=200, shard_size=50, source_weights=REAL_HEAVY, seed=3
    )


def _contains_any(hashes: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Which ``hashes`` occur in the sorted unique array ``sorted_set`` (binary search; np.isin re-sorts)."""
    index = np.minimum(np.searchsorted(sorted_set, hashes), len(sorted_set) - 1)
    return sorted_set[index] == hashes


def _ngram_hashes(*arrays: np.ndarray) -> np.ndarray:
    """uint64 hashes of every run of NGRAM consecutive float32 values along the last axis of each array.

    All channels are laid end to end with NaN gaps between them (runs with a NaN, or constant runs, are
    skipped), so one vectorised pass hashes everything.
    """
    gap = np.full(NGRAM, np.nan, dtype=np.float32)
    pieces = [
        piece
        for a in arrays
        for row in np.asarray(a, np.float32).reshape(-1, np.shape(a)[-1])
        for piece in (row, gap)
    ]
    line = np.concatenate(pieces)
    bits = line.view(np.uint32).astype(np.uint64)
    count = len(line) - NGRAM + 1
    value = np.zeros(count, dtype=np.uint64)
    for offset in range(NGRAM):
        value = value * np.uint64(1_000_003) + bits[offset : offset + count]
    changes = np.concatenate([[0], np.cumsum(line[1:] != line[:-1])])
    missing = np.concatenate([[0], np.cumsum(np.isnan(line))])
    varied = changes[NGRAM - 1 :] - changes[:count] > 0
    usable = varied & (missing[NGRAM:] - missing[:count] == 0)
    return value[usable]


@pytest.fixture(scope="module")
def evaluation_ngrams():
    """Every NGRAM-run of every evaluation series: all HAPT test-subject data, all splits of the others."""
    arrays = [recording.values for recording in hapt_recordings(UCI_HAR_TEST_SUBJECTS)]
    for builder_class in (BasicMotions, Ecg200, Ecg5000):
        arrays += [builder_class()._load(split)[0] for split in ("TRAIN", "TEST")]
    return np.unique(_ngram_hashes(*arrays))


def test_config_is_validated():
    with pytest.raises(ValueError, match="level_mix"):
        SlipCorpus(size=10, level_mix=("numbers",))
    with pytest.raises(ValueError, match="Unknown sources"):
        SlipCorpus(size=10, source_weights={"ecg5000": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        SlipCorpus(size=10, source_weights={"synthetic": -1.0})
    with pytest.raises(ValueError, match="univariate_ratio"):
        SlipCorpus(size=10, univariate_ratio=1.5)
    with pytest.raises(ValueError, match="min_length"):
        SlipCorpus(size=10, min_length=2000, max_length=3000)


def test_source_counts_follow_weights():
    counts = source_counts(100_000, DEFAULT_SOURCE_WEIGHTS)
    assert (
        sum(counts.values()) == 100_000 and counts["synthetic"] == 50_000 and counts["hapt_train"] == 20_000
    )
    assert source_counts(7, {"a": 1, "b": 1, "c": 0}) in ({"a": 4, "b": 3}, {"a": 3, "b": 4})
    builder = SlipCorpus(size=1001, shard_size=100)
    plan = shard_plan(builder.config)
    assert len(plan) == 11 and sum(sum(c.values()) for _, c in plan) == 1001
    totals = {name: sum(c.get(name, 0) for _, c in plan) for name in DEFAULT_SOURCE_WEIGHTS}
    assert totals == source_counts(1001, DEFAULT_SOURCE_WEIGHTS)
    assert "| hapt_train |" in source_table(builder.config)


def test_rows_follow_the_schema(corpus):
    dataset = corpus.as_dataset("train")
    assert len(dataset) == 200 and len(set(dataset["id"])) == 200
    assert set(dataset["source"]) == set(REAL_HEAVY)
    for row in dataset:
        series = np.asarray(row["series"], dtype=np.float32)
        assert series.ndim == 2 and 64 <= series.shape[1] <= 1024 and 1 <= series.shape[0] <= 6
        assert len(row["channel_names"]) == len(row["units"]) == series.shape[0]
        assert row["caption_statistical"] and row["caption_structural"] and row["caption_semantic"]
        assert row["caption"].startswith(row["caption_semantic"][:20])
        assert parse_frequency(row["freq"]) > 0, row["id"]


def test_level_mix_selects_the_caption_levels(tmp_path):
    dataset = _build(tmp_path, size=30, level_mix=("semantic",), seed=1).as_dataset("train")
    assert dataset["caption"] == dataset["caption_semantic"]
    row = dataset[0]
    parts = {level: row[f"caption_{level}"] for level in ("statistical", "structural", "semantic")}
    assert "channel" in compose_caption(parts, ("structural", "statistical"), seed=0)


def test_same_seed_gives_byte_identical_parquet(tmp_path):
    config = {"size": 60, "shard_size": 20, "source_weights": REAL_HEAVY, "seed": 7}
    digests = []
    for name in ("a", "b"):
        out = export_dataset(_build(tmp_path, name, **config).as_dataset(), tmp_path / f"{name}-export")
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "data").iterdir()})
    assert digests[0] == digests[1]
    other = _build(tmp_path, "c", **{**config, "seed": 8}).as_dataset("train")
    first = _build(tmp_path, "a", **config).as_dataset("train")
    assert other["caption"] != first["caption"]


def test_hapt_windows_come_from_train_subjects_only(corpus):
    ids = [row_id for row_id in corpus.as_dataset("train")["id"] if ":hapt/" in row_id]
    assert ids
    subjects = {int(row_id.split(":hapt/subject")[1][:2]) for row_id in ids}
    assert subjects <= UCI_HAR_TRAIN_SUBJECTS


def test_no_evaluation_series_in_sources_or_corpus(corpus, evaluation_ngrams):
    for name, source in SOURCES.items():
        recordings = [recording.values for recording in source.recordings()]
        assert not _contains_any(_ngram_hashes(*recordings), evaluation_ngrams).any(), name
    rows = [np.stack(series) for series in corpus.as_dataset("train").with_format("numpy")["series"]]
    assert not _contains_any(_ngram_hashes(*rows), evaluation_ngrams).any()


def test_overlap_check_detects_evaluation_data(evaluation_ngrams):
    """The check above can fail: a UCI-HAR test window, or a piece of ECG5000, is found."""
    recording = next(hapt_recordings([2]))
    assert _contains_any(_ngram_hashes(recording.values[:, 1000:1128]), evaluation_ngrams).all()
    train_recording = next(hapt_recordings([1]))
    assert not _contains_any(_ngram_hashes(train_recording.values[:, 1000:1128]), evaluation_ngrams).any()
    ecg = Ecg5000()._load("TEST")[0][17]
    assert _contains_any(_ngram_hashes(ecg), evaluation_ngrams).all()


def test_no_row_has_a_channel_without_observations(tmp_path):
    # The forecasting sources have gaps (co2, macro); a window inside one must be redrawn, not emitted.
    builder = _build(tmp_path, size=300, shard_size=100, source_weights={"forecasting": 1.0}, seed=5)
    for row in builder.as_dataset(split="train"):
        series = np.asarray(row["series"], dtype=np.float64)
        assert np.isfinite(series).any(axis=1).all(), row["id"]
