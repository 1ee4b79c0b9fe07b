"""Long-format frames -> one series per id: order, sorting, value columns, and a clear error for each bad
frame."""

import numpy as np
import pandas as pd
import pytest

from processing_slip.long_format import long_to_series


def _long() -> pd.DataFrame:
    """Ids "b" then "a" (by first appearance), "b"'s rows out of time order, "a" with a missing value."""
    return pd.DataFrame(
        {
            "id": ["b", "b", "a", "a", "b"],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01 00:02",
                    "2024-01-01 00:00",
                    "2024-01-01 00:00",
                    "2024-01-01 00:01",
                    "2024-01-01 00:01",
                ]
            ),
            "x": [1.0, 2.0, 3.0, np.nan, 5.0],
            "y": [10, 20, 30, 40, 50],
        }
    )


def test_ids_in_order_of_first_appearance_with_sorted_timestamps():
    ids, frames = long_to_series(_long())
    assert ids == ["b", "a"]
    b, a = frames
    assert list(b.columns) == ["x", "y"] and b.dtypes.tolist() == [np.float64, np.float64]
    np.testing.assert_array_equal(b.to_numpy(), [[2.0, 20.0], [5.0, 50.0], [1.0, 10.0]])
    assert isinstance(b.index, pd.DatetimeIndex) and b.index.is_monotonic_increasing
    assert pd.infer_freq(b.index) == "min"
    np.testing.assert_array_equal(a["x"].to_numpy(), [3.0, np.nan])


def test_column_names_and_target_columns():
    renamed = _long().rename(columns={"id": "item_id", "timestamp": "time"})
    ids, frames = long_to_series(renamed, id_column="item_id", timestamp_column="time", target_columns=["y"])
    assert ids == ["b", "a"] and list(frames[0].columns) == ["y"] and frames[0].index.name == "time"
    _, frames = long_to_series(_long(), target_columns="x")
    assert list(frames[1].columns) == ["x"]


def test_string_timestamps_and_integer_ids():
    frame = _long().assign(id=[7, 7, 3, 3, 7], timestamp=lambda df: df["timestamp"].astype(str))
    ids, frames = long_to_series(frame)
    assert ids == [7, 3] and isinstance(frames[0].index, pd.DatetimeIndex)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_long().drop(columns="timestamp"), "no columns \\['timestamp'\\]"),
        (_long().drop(columns=["x", "y"]), "no value columns"),
        (_long().assign(x="high"), "columns \\['x'\\] are not numeric"),
        (_long().assign(y=True), "columns \\['y'\\] are not numeric"),
        (pd.concat([_long(), _long().iloc[:1]]), "id 'b' has more than one row at 2024-01-01 00:02:00"),
        (_long().assign(timestamp=range(5)), "holds numbers, not timestamps"),
        (_long().assign(timestamp=[pd.NaT, *_long()["timestamp"][1:]]), "missing timestamp"),
        (_long().assign(id=[None, "b", "a", "a", "b"]), "missing ids"),
        (_long().iloc[:0], "no rows"),
    ],
)
def test_bad_frames_raise_clear_errors(frame, message):
    with pytest.raises(ValueError, match=message):
        long_to_series(frame)


def test_bad_arguments():
    with pytest.raises(ValueError, match="no columns \\['z'\\]"):
        long_to_series(_long(), target_columns=["z"])
    with pytest.raises(ValueError, match="two different columns"):
        long_to_series(_long(), id_column="id", timestamp_column="id")
    with pytest.raises(ValueError, match="pandas DataFrame"):
        long_to_series(_long().to_dict())
