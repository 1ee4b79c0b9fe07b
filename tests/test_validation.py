"""Up-front validation of a series dataset: each bad row is named by its index, or dropped and counted."""

import datasets
import numpy as np
import pyarrow as pa
import pytest

from hub_datasets.schema import SERIES
from hub_datasets.validation import PROBLEMS, validate_series_dataset

FEATURES = datasets.Features({"series": SERIES, "freq": datasets.Value("string")})
NAN, INF = float("nan"), float("inf")
GOOD = [[1.0, 2.0], [3.0, NAN]]


def dataset(
    rows: list, freqs: list | None = None, features: datasets.Features = FEATURES
) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"series": rows, "freq": freqs or ["50Hz"] * len(rows)}, features=features
    )


@pytest.mark.parametrize(
    ("bad", "problem", "detail"),
    [
        ([[1.0, INF]], "infinite value", ""),
        ([[-INF, 2.0]], "infinite value", ""),
        ([[NAN, NAN], [NAN, NAN]], "no finite value", ""),
        ([[None, None]], "no finite value", ""),
        ([[1.0, 2.0], [3.0]], "ragged channels", "channel lengths [2, 1]"),
        ([], "no channels", ""),
        ([[]], "no time steps", ""),
        (None, "missing series", ""),
        ([[1.0], None], "missing channel", ""),
    ],
)
def test_each_problem_names_its_row(bad, problem, detail):
    rows = [GOOD, GOOD, bad, GOOD]
    with pytest.raises(ValueError) as raised:
        validate_series_dataset(dataset(rows))
    message = str(raised.value)
    assert message.startswith(f"Row 2 of the dataset is invalid: {PROBLEMS[problem]}")
    assert detail in message and "drop_invalid=True" in message and f"{problem}: 1 rows (2)" in message


def test_values_beyond_float32_are_named():
    wide = datasets.Features(
        {"series": datasets.List(datasets.List(datasets.Value("float64"))), "freq": datasets.Value("string")}
    )
    rows = [GOOD, [[1e39, 0.0]], [[3e38, -3e38]]]
    with pytest.raises(
        ValueError, match="Row 1 of the dataset is invalid: a value's magnitude exceeds float32"
    ):
        validate_series_dataset(dataset(rows, features=wide))


def test_freq_is_checked_when_set():
    rows = [GOOD] * 4
    with pytest.raises(
        ValueError, match=r"Row 3 .*its freq does not parse.*\('-5min': freq must give a positive"
    ):
        validate_series_dataset(dataset(rows, ["50Hz", "", None, "-5min"]))
    _, report = validate_series_dataset(dataset(rows, ["50Hz", "", None, "1min"]))
    assert report.num_invalid == 0


def test_drop_invalid_reports_counts_and_rows():
    rows = [GOOD, [[INF]], [[NAN]], GOOD, [[1.0, 2.0], [3.0]], [[INF, 1.0]], GOOD]
    kept, report = validate_series_dataset(dataset(rows), drop_invalid=True)
    np.testing.assert_array_equal(np.asarray(kept["series"]), np.asarray([GOOD] * 3))  # NaN steps kept
    assert report.num_rows == 7 and report.num_invalid == 4
    assert report.invalid == {"ragged channels": [4], "infinite value": [1, 5], "no finite value": [2]}
    assert "4 of 7 rows are invalid" in report.summary()


def test_row_indices_follow_the_dataset_order():
    rows = [GOOD, GOOD, GOOD, [[NAN]], GOOD]
    shuffled = dataset(rows).shuffle(seed=0)
    position = next(i for i, row in enumerate(shuffled["series"]) if np.isnan(row[0][0]) and len(row[0]) == 1)
    with pytest.raises(ValueError, match=f"Row {position} of the dataset"):
        validate_series_dataset(shuffled)


def test_rows_across_batches_keep_their_index():
    count = 3000  # several batches of rows
    values = np.ones((count, 2, 8), np.float32)
    values[2500, 1, 3] = np.inf
    inner = pa.ListArray.from_arrays(
        np.arange(0, count * 16 + 1, 8, dtype=np.int32), pa.array(values.ravel())
    )
    outer = pa.ListArray.from_arrays(np.arange(0, count * 2 + 1, 2, dtype=np.int32), inner)
    table = pa.table({"series": outer, "freq": pa.array(["50Hz"] * count)})
    large = datasets.Dataset(table).cast(FEATURES)
    kept, report = validate_series_dataset(large, drop_invalid=True)
    assert report.invalid == {"infinite value": [2500]} and len(kept) == count - 1


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match=r"no column 'values'.*\['series', 'freq'\]"):
        validate_series_dataset(dataset([GOOD]), series_column="values")
    with pytest.raises(ValueError, match="expected a list of channels"):
        validate_series_dataset(datasets.Dataset.from_dict({"series": [[1.0, 2.0]]}))
    with pytest.raises(TypeError, match="pass each split"):
        validate_series_dataset(datasets.DatasetDict({"train": dataset([GOOD])}))
