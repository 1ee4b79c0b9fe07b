from __future__ import annotations

import io
import os
import pickle
import re

import numpy as np
import pytest

from hub_datasets.downstream._base import SourceFileError
from hub_datasets.downstream.wesad import LABELS, RestrictedUnpickler, Wesad, label_runs, load_subject
from hub_datasets.schema import classification_features
from pickle_fixtures import forged_object_dtype_array, run_isolated, tebibyte_array

from .conftest import error_chain
from .fixtures import python2_style_pickle, wesad_record, write_text_zip, write_wesad

# per second: 0 transient, 1 baseline, 2 stress, 3 amusement, 4 meditation
SUBJECTS = {
    "S2": [0, 1, 1, 1, 1, 2, 2, 2, 4, 3, 3],
    "S3": [1, 1, 2, 2, 2, 2, 0, 3, 3, 3],
    "S4": [3, 3, 3, 1, 1],
    "S5": [2, 2, 0, 1, 1],
    "S6": [1, 1, 1, 1, 0],
}


@pytest.fixture
def raw(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_wesad(raw, SUBJECTS)
    return raw


class Exploit:
    def __reduce__(self):
        return (os.getcwd, ())


def test_restricted_unpickler_reads_arrays_and_refuses_other_globals():
    record = wesad_record("S9", [1, 2])
    loaded = RestrictedUnpickler(io.BytesIO(python2_style_pickle(record)), encoding="latin1").load()
    np.testing.assert_array_equal(loaded["signal"]["chest"]["ACC"], record["signal"]["chest"]["ACC"])
    assert loaded["signal"]["chest"]["Temp"].dtype == np.float32
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global posix.getcwd"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps({"label": Exploit()}, protocol=2))).load()


def test_malicious_pickle_in_archive_is_refused_by_the_builder(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_text_zip(
        raw / "WESAD.zip",
        {
            "WESAD/S2/S2.pkl": pickle.dumps({"signal": Exploit()}, protocol=2),
            "WESAD/S3/S3.pkl": python2_style_pickle(wesad_record("S3", [1, 1])),
        },
    )
    with pytest.raises(Exception) as raised:
        Wesad(
            cache_dir=str(tmp_path / "cache"), data_dir=str(raw), window_seconds=1, step_seconds=1
        ).download_and_prepare()
    assert re.search(r"SourceFileError: WESAD.zip: WESAD/S2/S2.pkl .*refusing", error_chain(raised.value))
    assert not list((tmp_path / "cache").rglob("*.arrow"))


def _archive_with(raw, payload) -> None:
    """WESAD.zip whose S2 has ``payload`` as its chest ACC signal; S3 is a well-formed subject."""
    record = wesad_record("S2", [1, 1])
    record["signal"]["chest"]["ACC"] = payload
    write_text_zip(
        raw / "WESAD.zip",
        {
            "WESAD/S2/S2.pkl": pickle.dumps(record, protocol=2),
            "WESAD/S3/S3.pkl": python2_style_pickle(wesad_record("S3", [1, 1])),
        },
    )


def test_forged_dtype_pickle_is_refused_without_crashing(tmp_path):
    """Without the dtype checks the pickle loads, and reading the signal dereferences 0x4141414141414141."""
    raw = tmp_path / "raw"
    raw.mkdir()
    _archive_with(raw, forged_object_dtype_array())
    result = run_isolated(
        "from hub_datasets.downstream.wesad import Wesad\n"
        "error = None\n"
        "try:\n"
        f"    Wesad(cache_dir={str(tmp_path / 'cache')!r}, data_dir={str(raw)!r}, window_seconds=1,\n"
        "          step_seconds=1).download_and_prepare()\n"
        "except Exception as raised:\n"
        "    error = raised\n"
        "while error is not None:\n"
        "    print(type(error).__name__, error)\n"
        "    error = error.__cause__ or error.__context__\n"
    )
    assert result.returncode == 0, f"the reader crashed (rc {result.returncode}): {result.stderr[-2000:]}"
    assert re.search(r"SourceFileError WESAD.zip: WESAD/S2/S2.pkl .*refusing dtype '\|V8'", result.stdout)
    assert not list((tmp_path / "cache").rglob("*.arrow"))


def test_a_pickle_asking_for_a_tebibyte_is_refused(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _archive_with(raw, tebibyte_array())
    builder = Wesad(cache_dir=str(tmp_path / "cache"), data_dir=str(raw), window_seconds=1, step_seconds=1)
    with pytest.raises(Exception) as raised:
        builder.download_and_prepare()
    assert re.search(
        r"SourceFileError: WESAD.zip: WESAD/S2/S2.pkl is not a readable", error_chain(raised.value)
    )


class _ExhaustedStream(io.BytesIO):
    """A stream whose reads fail as they do when a large array does not fit in memory."""

    def read(self, size: int | None = -1) -> bytes:
        raise MemoryError


def test_running_out_of_memory_is_a_source_file_error():
    with pytest.raises(SourceFileError, match="WESAD/S2/S2.pkl asks for more memory than is available"):
        load_subject(_ExhaustedStream(), "WESAD/S2/S2.pkl")


def test_object_arrays_and_foreign_layouts_are_refused():
    with pytest.raises(SourceFileError, match="kind 'O'"):
        load_subject(io.BytesIO(pickle.dumps({"signal": np.array([None])}, protocol=2)), "WESAD/S2/S2.pkl")
    with pytest.raises(SourceFileError, match="'signal' is not a dict of devices holding arrays"):
        load_subject(io.BytesIO(pickle.dumps({"signal": [1], "label": np.zeros(2)}, protocol=2)), "S2.pkl")


def test_label_runs_in_whole_seconds():
    labels = np.repeat([0, 1, 1, 2, 4, 3], 700)
    assert label_runs(labels) == [("neutral", 1, 3), ("stress", 3, 4), ("amusement", 5, 6)]


@pytest.mark.parametrize(("device", "rate", "channels"), [("chest", 700, 8), ("wrist", 32, 6)])
def test_windows_per_label_run(raw, prepare, device, rate, channels):
    ds = prepare(Wesad, raw, config_name=device, window_seconds=2, step_seconds=1)
    assert ds["train"].features == classification_features(LABELS)
    # 2 s windows every 1 s within runs: S2 3+2+1, S3 1+3+2, S4 2+1, S5 1+1, S6 3 (a run of L s gives L-1)
    assert sum(split.num_rows for split in ds.values()) == 20
    assert ds["test"].num_rows > 0 and set(ds["train"].unique("subject")).isdisjoint(
        ds["test"].unique("subject")
    )
    row = ds["train"][0]
    assert np.asarray(row["series"]).shape == (channels, 2 * rate) and row["freq"] == f"{rate}Hz"


def test_chest_window_holds_the_source_samples(raw, prepare):
    ds = prepare(Wesad, raw, config_name="chest", window_seconds=2, step_seconds=1)
    rows = {row["id"]: row for split in ds.values() for row in split}
    record = wesad_record("S2", SUBJECTS["S2"], seed=0)
    window = np.asarray(rows["wesad_chest-S2-00001"]["series"])  # S2's baseline starts at second 1
    np.testing.assert_allclose(window[:3], record["signal"]["chest"]["ACC"][700:2100].T, rtol=1e-6)
    np.testing.assert_allclose(window[6], record["signal"]["chest"]["Temp"][700:2100, 0], rtol=1e-6)
    assert LABELS[rows["wesad_chest-S2-00001"]["label"]] == "neutral"
