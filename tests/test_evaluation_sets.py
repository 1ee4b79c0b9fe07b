"""Evaluation sets: exact sizes and labels, official splits, validation carved from train, clean failures."""

import collections

import numpy as np
import pytest

from hub_datasets.evaluation_sets import BasicMotions, Ecg200, Ecg5000, UciHarHapt, stratified_holdout
from hub_datasets.registry import BUILDERS, load_evaluation_set, zero_shot_prompts
from hub_datasets.sources import UCI_HAR_TEST_SUBJECTS, SourceFileError


def _prepare(builder_class, cache_dir, **config):
    builder = builder_class(cache_dir=str(cache_dir), **config)
    builder.download_and_prepare()
    return builder.as_dataset()


@pytest.fixture(scope="module")
def uci_har(tmp_path_factory):
    return _prepare(UciHarHapt, tmp_path_factory.mktemp("uci_har"))


def test_uci_har_sizes_labels_and_subject_split(uci_har):
    assert {split: len(part) for split, part in uci_har.items()} == {
        "train": 6292,
        "validation": 1123,
        "test": 2996,
    }
    assert uci_har["train"].features["label"].names == [
        "walking", "upstairs", "downstairs", "sitting", "standing", "lying"
    ]  # fmt: skip
    subjects = {split: set(map(int, part["subject"])) for split, part in uci_har.items()}
    assert subjects["test"] == UCI_HAR_TEST_SUBJECTS
    assert subjects["validation"] == {28, 29, 30}
    assert not subjects["train"] & (subjects["test"] | subjects["validation"])
    assert len(subjects["train"]) == 18
    assert collections.Counter(uci_har["test"]["label"]) == {0: 496, 1: 471, 2: 420, 3: 508, 4: 556, 5: 545}
    row = uci_har["test"].with_format("numpy")[0]
    assert np.stack(row["series"]).shape == (6, 128) and row["freq"] == "50Hz"
    assert row["channel_names"].tolist() == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


def test_uci_har_official_train_split(tmp_path):
    dataset = _prepare(UciHarHapt, tmp_path, validation_subjects=())
    assert {split: len(part) for split, part in dataset.items()} == {"train": 7415, "test": 2996}


def test_uci_har_windows_overlap_by_half(uci_har):
    first, second = uci_har["train"].with_format("numpy").select(range(2))["series"]
    np.testing.assert_array_equal(np.stack(first)[:, 64:], np.stack(second)[:, :64])


@pytest.mark.parametrize(
    ("builder_class", "sizes", "labels", "shape"),
    [
        (BasicMotions, {"train": 32, "validation": 8, "test": 40}, ["standing", "running", "walking", "badminton"], (6, 100)),
        (Ecg200, {"train": 80, "validation": 20, "test": 100}, ["normal", "myocardial_infarction"], (1, 96)),
        (Ecg5000, {"train": 401, "validation": 99, "test": 4500},
         ["normal", "r_on_t_pvc", "pvc", "supraventricular_premature", "unclassified"], (1, 140)),
    ],
)  # fmt: skip
def test_train_test_sets(tmp_path, builder_class, sizes, labels, shape):
    dataset = _prepare(builder_class, tmp_path)
    assert {split: len(part) for split, part in dataset.items()} == sizes
    assert dataset["test"].features["label"].names == labels
    assert np.stack(dataset["test"].with_format("numpy")[0]["series"]).shape == shape
    official_train = {
        row_id.split("/")[-1] for row_id in [*dataset["train"]["id"], *dataset["validation"]["id"]]
    }
    assert len(official_train) == sizes["train"] + sizes["validation"]
    assert all("/train/" in row_id for row_id in dataset["validation"]["id"])
    assert all("/test/" in row_id for row_id in dataset["test"]["id"])
    assert set(zero_shot_prompts(builder_class.DATASET_NAME)) == set(labels)


def test_official_train_split_without_validation(tmp_path):
    dataset = _prepare(Ecg200, tmp_path, validation_fraction=0)
    assert {split: len(part) for split, part in dataset.items()} == {"train": 100, "test": 100}


def test_stratified_holdout_keeps_class_shares():
    labels = np.array([0] * 50 + [1] * 10 + [2])
    held = stratified_holdout(labels, 0.2, seed=0)
    assert collections.Counter(labels[held].tolist()) == {0: 10, 1: 2}
    np.testing.assert_array_equal(held, stratified_holdout(labels, 0.2, seed=0))


def test_zero_shot_prompts_cover_every_label():
    for name in ("uci_har_hapt", "basic_motions", "ecg200", "ecg5000"):
        prompts = zero_shot_prompts(name)
        assert list(prompts) == list(BUILDERS[name].LABEL_NAMES)
        assert all(len(texts) >= 2 and all(texts) for texts in prompts.values())
    assert "walking" in zero_shot_prompts("uci_har")
    upstairs = zero_shot_prompts("uci_har_hapt")["upstairs"]
    assert all("Samsung Galaxy S II" in text and text.endswith("walking upstairs.") for text in upstairs)
    with pytest.raises(ValueError, match="has no zero-shot prompts"):
        zero_shot_prompts("slip_corpus")


def test_validation_subjects_must_be_train_subjects():
    with pytest.raises(ValueError, match="test subjects never serve"):
        UciHarHapt(validation_subjects=(2,))


def test_load_evaluation_set(tmp_path):
    dataset = load_evaluation_set("ecg200", "test", cache_dir=str(tmp_path))
    assert len(dataset) == 100
    with pytest.raises(ValueError, match="not 'dev'"):
        load_evaluation_set("ecg200", "dev", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="load_corpus"):
        load_evaluation_set("slip_corpus", "train", cache_dir=str(tmp_path))


def _assert_nothing_prepared(cache_dir, name):
    prepared = (
        [p for p in (cache_dir / name).rglob("dataset_info.json")] if (cache_dir / name).exists() else []
    )
    assert not prepared
    assert not list(cache_dir.rglob("*.arrow"))


def test_missing_source_file_is_named_and_nothing_is_prepared(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    with pytest.raises(SourceFileError, match="ECG200_TRAIN.tsv"):
        Ecg200(cache_dir=str(cache), data_dir=str(data)).download_and_prepare()
    _assert_nothing_prepared(cache, "ecg200")


def test_corrupt_test_file_is_named_and_nothing_is_prepared(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    (data / "ECG200_TRAIN.tsv").write_text("1\t0.5\t0.25\n-1\t0.1\t0.2\n")
    (data / "ECG200_TEST.tsv").write_text("1\t0.5\tgarbage\n7\t0.1\t0.2\n")
    with pytest.raises(SourceFileError, match="ECG200_TEST.tsv"):
        Ecg200(cache_dir=str(cache), data_dir=str(data)).download_and_prepare()
    _assert_nothing_prepared(cache, "ecg200")


def test_truncated_hapt_file_is_named_and_nothing_is_prepared(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    (data / "HAPT.pkl.gz").write_bytes(b"\x1f\x8b\x08\x00truncated")
    with pytest.raises(SourceFileError, match="HAPT.pkl.gz"):
        UciHarHapt(cache_dir=str(cache), data_dir=str(data)).download_and_prepare()
    _assert_nothing_prepared(cache, "uci_har_hapt")
