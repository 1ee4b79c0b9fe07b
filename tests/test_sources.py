"""Source readers: right metadata, only UCI-HAR train subjects, clear errors on missing or corrupt files."""

import gzip
import pickle

import numpy as np
import pytest

from hub_datasets.sources import SOURCES, UCI_HAR_TEST_SUBJECTS, UCI_HAR_TRAIN_SUBJECTS, SourceFileError
from hub_datasets.sources.base import MissingSourcePackageError, package_dir
from hub_datasets.sources.daphnet import read_daphnet
from hub_datasets.sources.hapt import _convert, hapt_arrays, hapt_recordings, label_runs
from hub_datasets.windowing import decimate, random_window, scale_freq, sliding_windows
from processing_slip.frequency import parse_frequency


@pytest.fixture(scope="module")
def recordings():
    return {name: list(source.recordings()) for name, source in SOURCES.items()}


def test_official_subject_split_is_a_partition():
    assert UCI_HAR_TEST_SUBJECTS == {2, 4, 9, 10, 12, 13, 18, 20, 24}
    assert UCI_HAR_TRAIN_SUBJECTS | UCI_HAR_TEST_SUBJECTS == set(range(1, 31))
    assert not UCI_HAR_TRAIN_SUBJECTS & UCI_HAR_TEST_SUBJECTS


def test_hapt_conversion_holds_all_recordings():
    arrays = hapt_arrays()
    assert arrays["values"].shape == (6, 1_122_772)
    assert len(arrays["lengths"]) == 61 and arrays["lengths"].sum() == arrays["values"].shape[1]
    assert set(arrays["subjects"].tolist()) == set(range(1, 31))
    assert set(np.unique(arrays["labels"]).tolist()) == {-1, *range(1, 13)}


def test_hapt_train_reader_never_touches_test_subjects(recordings):
    subjects = {int(r.key.split("/")[1].removeprefix("subject")) for r in recordings["hapt_train"]}
    assert subjects == UCI_HAR_TRAIN_SUBJECTS
    assert {s.subject for s in hapt_recordings([2, 3])} == {2, 3}
    with pytest.raises(ValueError, match="subjects 1-30"):
        next(hapt_recordings([31]))


def test_hapt_runs_carry_one_label(recordings):
    labelled = [r for r in recordings["hapt_train"] if r.info.label is not None]
    assert {r.info.label for r in labelled} >= {"walking", "sitting", "lying"}
    assert label_runs(np.array([1, 1, 2, 2, 2, 1])) == [(0, 2, 1), (2, 5, 2), (5, 6, 1)]


def test_every_recording_is_described_consistently(recordings):
    for name, items in recordings.items():
        assert items, name
        for recording in items:
            channels, length = recording.values.shape
            assert recording.values.dtype == np.float32 and length > 0
            assert len(recording.info.units) == channels
            assert not np.isinf(recording.values).any()
            assert recording.info.domain and recording.info.description
            seconds = parse_frequency(recording.freq)
            assert seconds == pytest.approx(recording.info.seconds_per_step, rel=0.01), recording.key


def test_simulated_parameters_are_stated(recordings):
    ecg = [r for r in recordings["simulated_physiology"] if r.key.startswith("neurokit2/ecg")]
    assert len(ecg) == 6
    assert all("beats per minute" in r.info.description for r in ecg)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SourceFileError, match="S06R02E0.csv"):
        next(read_daphnet(str(tmp_path)))


def test_missing_package_names_the_pip_requirement():
    with pytest.raises(MissingSourcePackageError, match="pip install 'no-such-data==1.0'"):
        package_dir("no_such_data_package", "no-such-data==1.0")


def test_corrupt_hapt_pickle_raises_and_caches_nothing(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    (data / "HAPT.pkl.gz").write_bytes(gzip.compress(b"not a pickle")[:20])
    with pytest.raises(SourceFileError, match="HAPT.pkl.gz"):
        hapt_arrays(str(data), cache_dir=cache)
    assert not cache.exists() or not any(cache.iterdir())


def test_hapt_unpickler_refuses_foreign_globals(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "HAPT.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(Payload(), protocol=2)))
    with pytest.raises(SourceFileError, match="HAPT.pkl.gz has SHA-256 .*it is not read"):
        hapt_arrays(str(tmp_path), cache_dir=tmp_path / "cache")
    with pytest.raises(SourceFileError, match="refusing to load __builtin__.print"):
        _convert(path)  # behind the pinned digest, the unpickler refuses foreign globals too


def test_sliding_windows():
    assert sliding_windows(300, 128, 64) == [(0, 128), (64, 192), (128, 256)]
    assert sliding_windows(100, 128, 64) == []
    with pytest.raises(ValueError):
        sliding_windows(10, 0, 1)


def test_decimate_keeps_low_frequencies_and_gaps():
    t = np.arange(2000) / 100.0
    slow = np.sin(2 * np.pi * 1.0 * t)[None].astype(np.float32)
    down = decimate(slow, 5)
    assert down.shape == (1, 400)
    np.testing.assert_allclose(down[0, 20:-20], slow[0, ::5][20:-20], atol=0.02)
    gappy = np.array([[1, 3, np.nan, np.nan, 5, 7]], dtype=np.float32)
    np.testing.assert_array_equal(decimate(gappy, 2), [[2, np.nan, 6]])


def test_scale_freq():
    assert scale_freq("50Hz", 5) == "10Hz"
    assert scale_freq("W", 4) == "4W"
    assert scale_freq("5min", 2) == "10min"
    assert scale_freq("MS", 1) == "MS"
    with pytest.raises(ValueError, match="Cannot scale"):
        scale_freq("every now and then", 2)


def test_random_window_fits_and_slices_exactly():
    rng = np.random.default_rng(0)
    values = np.random.default_rng(1).normal(size=(3, 5000)).astype(np.float32)
    for _ in range(50):
        window = random_window(values, rng)
        length = window.values.shape[1]
        assert window.stop - window.start == length * window.factor <= 5000
        if window.factor == 1:
            np.testing.assert_array_equal(window.values, values[:, window.start : window.stop])
    assert random_window(values[:, :10], rng) is None
