"""Check every row of a series dataset before training, so a bad row fails at once, named by its row index.

A bad row found only when its batch is built stops a run hours in and is named by its place in the batch.
`validate_series_dataset` checks the whole ``series`` column (``List(List(float32))``, channels first; see
`schema`) up front, with Arrow compute and numpy on whole batches rather than Python loops over decoded rows:
a series must be present, have at least one channel, every channel present and all of one non-zero length,
no infinite value, no magnitude beyond float32's range, and at least one finite value (NaN marks a missing
step); ``freq``, where the dataset has it, must be empty (no rate recorded) or parse with `processing_slip`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from processing_slip.frequency import parse_frequency

logger = logging.getLogger(__name__)

PROBLEMS = {
    "missing series": "the series is null; store a (channels, steps) list of numbers",
    "no channels": "the series has no channels; store at least one channel",
    "missing channel": "a channel is null; store each channel as a list of numbers (NaN for a missing step)",
    "no time steps": "a channel has no time steps; store at least one step per channel",
    "ragged channels": "its channels differ in length; pad the shorter ones with NaN to the longest",
    "infinite value": "it holds an infinite value; replace it with NaN to mark the step missing",
    "beyond float32 range": (
        f"a value's magnitude exceeds float32's {np.finfo(np.float32).max:.3g}; rescale the series"
    ),
    "no finite value": "every value is missing (NaN); fill the series or leave the row out",
    "unparseable freq": "its freq does not parse; store a rate such as '50Hz' or '1min', or '' for none",
}
"""Each check, in the order rows are tested (a row is reported under its first failure), with what to do."""

_REASONS = list(PROBLEMS)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_BATCH_ROWS = 1024  # rows per Arrow batch: vectorised checks stay fast, memory stays bounded on long series
_ROWS_SHOWN = 10  # row indices per problem in a summary; the report holds them all


@dataclass(frozen=True)
class ValidationReport:
    """What `validate_series_dataset` found.

    Attributes:
        num_rows: rows checked.
        invalid: problem (a key of `PROBLEMS`) -> indices of the rows that have it, in the checked dataset.
    """

    num_rows: int
    invalid: dict[str, list[int]] = field(default_factory=dict)

    @property
    def num_invalid(self) -> int:
        return sum(len(rows) for rows in self.invalid.values())

    def summary(self) -> str:
        """One line per problem: how many rows and the first few indices."""
        lines = [f"{self.num_invalid} of {self.num_rows} rows are invalid"]
        for problem, rows in self.invalid.items():
            shown = ", ".join(map(str, rows[:_ROWS_SHOWN])) + (", ..." if len(rows) > _ROWS_SHOWN else "")
            lines.append(f"  {problem}: {len(rows)} rows ({shown})")
        return "\n".join(lines)


def validate_series_dataset(
    dataset: datasets.Dataset,
    series_column: str = "series",
    drop_invalid: bool = False,
    freq_column: str = "freq",
) -> tuple[datasets.Dataset, ValidationReport]:
    """Check every row of ``dataset`` up front (see the module docstring).

    Args:
        series_column: the column of (channels, steps) series.
        drop_invalid: drop invalid rows (logging how many, and why) instead of raising.
        freq_column: the column of sampling frequencies; not checked when the dataset has no such column.

    Returns:
        The dataset (without the invalid rows when ``drop_invalid``) and the report of what was found.

    Raises:
        ValueError: naming the first invalid row, what is wrong and what to do (unless ``drop_invalid``).
    """
    _check_column(dataset, series_column)
    codes = np.concatenate([np.zeros(0, np.int8), *_batch_codes(dataset, series_column, freq_column)])
    invalid = {reason: np.flatnonzero(codes == code).tolist() for code, reason in enumerate(_REASONS, 1)}
    report = ValidationReport(len(dataset), {reason: rows for reason, rows in invalid.items() if rows})
    if not report.num_invalid:
        return dataset, report
    if not drop_invalid:
        raise ValueError(_first_problem(dataset, codes, report, series_column, freq_column))
    logger.warning("Dropping invalid rows: %s", report.summary())
    return dataset.select(np.flatnonzero(codes == 0)), report


def _check_column(dataset: datasets.Dataset, series_column: str) -> None:
    if not isinstance(dataset, datasets.Dataset):
        raise TypeError(
            f"validate_series_dataset takes one datasets.Dataset, got {type(dataset).__name__}; "
            "for a DatasetDict pass each split."
        )
    if series_column not in dataset.column_names:
        raise ValueError(
            f"the dataset has no column {series_column!r}; its columns are {dataset.column_names}. "
            "Pass series_column=."
        )
    kind = dataset.data.schema.field(series_column).type
    inner = kind.value_type.value_type if _is_list(kind) and _is_list(kind.value_type) else None
    if inner is None or not (pa.types.is_floating(inner) or pa.types.is_integer(inner)):
        raise ValueError(
            f"column {series_column!r} has type {kind}; expected a list of channels, each a list of numbers "
            "(List(List(float32)), channels first, as hub_datasets.schema.SERIES)."
        )


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind)


def _batch_codes(dataset: datasets.Dataset, series_column: str, freq_column: str) -> Iterator[np.ndarray]:
    """Per batch, each row's problem as 1 + its index in `PROBLEMS` (0: valid)."""
    freq_errors: dict[object, str | None] = {}
    columns = [series_column] + ([freq_column] if freq_column in dataset.column_names else [])
    for batch in dataset.select_columns(columns).with_format("arrow").iter(batch_size=_BATCH_ROWS):
        codes = _series_codes(batch.column(series_column).combine_chunks())
        if freq_column in batch.column_names:
            bad_freq = _unparseable(batch.column(freq_column).combine_chunks(), freq_errors)
            codes[(codes == 0) & bad_freq] = _code("unparseable freq")
        yield codes


def _code(reason: str) -> int:
    return _REASONS.index(reason) + 1


def _series_codes(series: pa.ListArray) -> np.ndarray:
    """Each row's first failing series check; vectorised over the batch's channels and values."""
    rows = len(series)
    channels = series.flatten()
    channel_row = pc.list_parent_indices(series).to_numpy()
    lengths = pc.list_value_length(channels).fill_null(0).to_numpy()
    values = channels.flatten().to_numpy(zero_copy_only=False)  # a null value reads as NaN: missing
    finite = np.isfinite(values)
    beyond = finite & (np.abs(values) > _FLOAT32_MAX)
    checks = [
        ("missing series", series.is_null().to_numpy(zero_copy_only=False)),
        ("no channels", pc.list_value_length(series).fill_null(0).to_numpy() == 0),
        (
            "missing channel",
            _any_per_row(channels.is_null().to_numpy(zero_copy_only=False), channel_row, rows),
        ),
        ("no time steps", _any_per_row(lengths == 0, channel_row, rows)),
        ("ragged channels", _ragged(lengths, channel_row, rows)),
    ]
    values_per_row = np.bincount(channel_row, weights=lengths, minlength=rows).astype(np.int64)
    checks += [
        ("infinite value", _any_per_segment(np.isinf(values), values_per_row)),
        ("beyond float32 range", _any_per_segment(beyond, values_per_row)),
        ("no finite value", ~_any_per_segment(finite, values_per_row)),
    ]
    codes = np.zeros(rows, np.int8)
    for reason, failed in checks:
        codes[(codes == 0) & failed] = _code(reason)
    return codes


def _any_per_row(flags: np.ndarray, row_of: np.ndarray, rows: int) -> np.ndarray:
    """Whether any flagged item belongs to each row (``row_of`` maps items to rows)."""
    return np.bincount(row_of[flags], minlength=rows) > 0


def _any_per_segment(flags: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Whether any flag is set in each of the consecutive segments of ``flags`` of the given sizes."""
    found = np.zeros(len(sizes), bool)
    nonempty = sizes > 0
    starts = (np.cumsum(sizes) - sizes)[nonempty]
    if len(starts):
        found[nonempty] = np.logical_or.reduceat(flags, starts)
    return found


def _ragged(lengths: np.ndarray, channel_row: np.ndarray, rows: int) -> np.ndarray:
    """Rows whose channels differ in length (``channel_row`` is sorted: a row's channels are contiguous)."""
    ragged = np.zeros(rows, bool)
    if len(lengths):
        starts = np.flatnonzero(np.r_[True, channel_row[1:] != channel_row[:-1]])
        differ = np.maximum.reduceat(lengths, starts) != np.minimum.reduceat(lengths, starts)
        ragged[channel_row[starts]] = differ
    return ragged


def _unparseable(freqs: pa.Array, errors: dict[object, str | None]) -> np.ndarray:
    """Rows whose freq is set but does not parse; each distinct value is parsed once (kept in ``errors``)."""
    for value in pc.unique(freqs).to_pylist():
        if value not in errors:
            errors[value] = _freq_error(value)
    bad = [value for value, error in errors.items() if error is not None]
    if not bad:
        return np.zeros(len(freqs), bool)
    return (
        pc.is_in(freqs, value_set=pa.array(bad, freqs.type)).fill_null(False).to_numpy(zero_copy_only=False)
    )


def _freq_error(value: object) -> str | None:
    """Why ``value`` is not a usable freq, or None when it is (empty or null: no rate recorded)."""
    if value is None or value == "":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parse_frequency(value)
    except (ValueError, TypeError, OverflowError) as error:
        return str(error)
    return None


def _first_problem(
    dataset: datasets.Dataset,
    codes: np.ndarray,
    report: ValidationReport,
    series_column: str,
    freq_column: str,
) -> str:
    """The error message: the first invalid row, what is wrong with it and what to do, then the totals."""
    row = int(np.flatnonzero(codes)[0])
    reason = _REASONS[codes[row] - 1]
    detail = ""
    if reason == "ragged channels":
        detail = f" (channel lengths {[len(channel) for channel in dataset[row][series_column]]})"
    elif reason == "unparseable freq":
        value = dataset[row][freq_column]
        detail = f" ({value!r}: {_freq_error(value)})"
    return (
        f"Row {row} of the dataset is invalid: {PROBLEMS[reason]}{detail}.\n{report.summary()}\n"
        "Fix these rows, or pass drop_invalid=True to leave them out."
    )
