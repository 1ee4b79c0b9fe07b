"""Long-format frames -> one multichannel series per id.

Forecasting libraries (Chronos, fev, GluonTS) keep many series in one "long" frame: an id column, a
timestamp column and one column per value channel, one row per (id, time step). SLIP takes one series per
sample, so each id becomes a DataFrame of its value columns indexed by its timestamps; the DatetimeIndex lets
the feature extractor infer the sampling frequency.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd


def long_to_series(
    df: pd.DataFrame,
    id_column: str = "id",
    timestamp_column: str = "timestamp",
    target_columns: Sequence[str] | None = None,
) -> tuple[list[Hashable], list[pd.DataFrame]]:
    """Split a long-format frame into (ids, frames), both in the order each id first appears.

    Each frame holds the `target_columns` (default: every column but the id and timestamp) of one id as float
    channels, indexed by that id's timestamps in increasing order. Raises a `ValueError` for missing columns,
    non-numeric value columns, missing ids or timestamps, and a timestamp repeated within one id.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"long_to_series needs a pandas DataFrame, got {type(df).__name__}.")
    targets = _target_columns(df, id_column, timestamp_column, target_columns)
    if df.empty:
        raise ValueError("the long-format frame has no rows; pass at least one row per id.")
    if df[id_column].isna().any():
        raise ValueError(f"column {id_column!r} holds missing ids; drop those rows or give them an id.")
    frame = df[[id_column, timestamp_column, *targets]].copy()
    frame[timestamp_column] = _timestamps(frame[timestamp_column], timestamp_column)
    _check_unique_timestamps(frame, id_column, timestamp_column)
    ids = frame[id_column].drop_duplicates().tolist()
    ordered = frame.sort_values(timestamp_column, kind="stable")
    groups = dict(list(ordered.groupby(id_column, sort=False)))
    frames = [_series_frame(groups[key], timestamp_column, targets) for key in ids]
    return ids, frames


def _target_columns(
    df: pd.DataFrame, id_column: str, timestamp_column: str, target_columns: Sequence[str] | None
) -> list[str]:
    """The value columns, checked to exist and to be numeric."""
    if id_column == timestamp_column:
        raise ValueError(
            f"id_column and timestamp_column are both {id_column!r}; name two different columns."
        )
    if isinstance(target_columns, str):
        target_columns = [target_columns]
    wanted = [id_column, timestamp_column, *(target_columns or [])]
    missing = [name for name in wanted if name not in df.columns]
    if missing:
        raise ValueError(
            f"the long-format frame has no columns {missing} (it has {[str(c) for c in df.columns]}); pass "
            "id_column=, timestamp_column= and target_columns= naming its columns."
        )
    targets = (
        [name for name in df.columns if name not in (id_column, timestamp_column)]
        if target_columns is None
        else list(target_columns)
    )
    if not targets:
        raise ValueError(
            f"the long-format frame has no value columns besides {id_column!r} and {timestamp_column!r}."
        )
    non_numeric = [str(name) for name in targets if not _is_value_dtype(df[name].dtype)]
    if non_numeric:
        raise ValueError(
            f"value columns {non_numeric} are not numeric; drop them or pass target_columns= with the "
            "numeric channels only."
        )
    return targets


def _is_value_dtype(dtype: object) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _timestamps(column: pd.Series, name: str) -> pd.Series:
    """The timestamp column as datetimes; numbers are refused because their unit is unknown."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        raise ValueError(
            f"column {name!r} holds numbers, not timestamps; convert it first, e.g. "
            f"df[{name!r}] = pd.to_datetime(df[{name!r}], unit='s')."
        )
    try:
        parsed = pd.to_datetime(column)
    except (ValueError, TypeError) as error:
        raise ValueError(f"column {name!r} does not hold parseable timestamps: {error}") from error
    if parsed.isna().any():
        row = parsed.index[parsed.isna()][0]
        raise ValueError(f"column {name!r} has a missing timestamp at row {row!r}; drop or fill it.")
    return parsed


def _check_unique_timestamps(frame: pd.DataFrame, id_column: str, timestamp_column: str) -> None:
    repeated = frame.duplicated([id_column, timestamp_column])
    if repeated.any():
        first = frame.iloc[int(repeated.to_numpy().argmax())]
        raise ValueError(
            f"id {first[id_column]!r} has more than one row at {first[timestamp_column]}; each id needs one "
            "row per timestamp (aggregate or drop the duplicates)."
        )


def _series_frame(group: pd.DataFrame, timestamp_column: str, targets: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        group[targets].to_numpy(dtype=np.float64, na_value=np.nan),
        index=pd.DatetimeIndex(group[timestamp_column], name=timestamp_column),
        columns=targets,
    )
