import datetime
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processing_slip.frequency import (
    DEFAULT_SECONDS_PER_STEP,
    DefaultFrequencyWarning,
    IrregularSamplingWarning,
    parse_frequency,
)

MONTH = 365.2425 * 86_400 / 12


@pytest.mark.parametrize(
    ("freq", "seconds"),
    [
        ("1min", 60.0),
        ("5min", 300.0),
        ("15T", 900.0),
        ("h", 3600.0),
        ("2h", 7200.0),
        ("H", 3600.0),
        ("D", 86_400.0),
        ("3D", 3 * 86_400.0),
        ("W", 7 * 86_400.0),
        ("W-MON", 7 * 86_400.0),
        ("MS", MONTH),
        ("M", MONTH),
        ("QS", 3 * MONTH),
        ("YS", 12 * MONTH),
        ("B", 86_400.0),
        ("s", 1.0),
        ("50Hz", 0.02),
        ("100 Hz", 0.01),
        ("0.5Hz", 2.0),
        ("1kHz", 0.001),
        ("10ms", 0.01),
        ("0.02s", 0.02),
        ("1s", 1.0),
        ("1 min", 60.0),
        ("60", 60.0),
        (60, 60.0),
        (0.02, 0.02),
        (np.float32(0.5), 0.5),
        (pd.Timedelta("1h"), 3600.0),
        (datetime.timedelta(minutes=2), 120.0),
        (np.timedelta64(5, "ms"), 0.005),
        (pd.offsets.Hour(3), 10_800.0),
        (pd.offsets.MonthBegin(2), 2 * MONTH),
        (pd.DateOffset(months=1), MONTH),
        (pd.DateOffset(2, months=1), 2 * MONTH),
        (pd.DateOffset(months=1, day=1), MONTH),
        (pd.DateOffset(years=1), 12 * MONTH),
        (pd.DateOffset(weeks=1), 7 * 86_400.0),
        (pd.DateOffset(days=1, hours=2), 93_600.0),
        (pd.DateOffset(), 86_400.0),
        (np.array(0.02), 0.02),
        (np.array(60), 60.0),
        (np.array("50Hz"), 0.02),
        (np.array(np.timedelta64(5, "ms")), 0.005),
        ("+5min", 300.0),
    ],
)
def test_accepted_forms(freq, seconds):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_frequency(freq) == pytest.approx(seconds, rel=1e-12)


@settings(deadline=None, max_examples=50, derandomize=True)
@given(rate=st.floats(min_value=1e-3, max_value=1e5, allow_nan=False), spaced=st.booleans())
def test_rates_invert(rate, spaced):
    text = f"{rate!r}{' ' if spaced else ''}Hz"
    assert parse_frequency(text) == pytest.approx(1.0 / rate, rel=1e-12)


@settings(deadline=None, max_examples=50, derandomize=True)
@given(
    count=st.integers(1, 500), unit=st.sampled_from([("ms", 1e-3), ("s", 1.0), ("min", 60.0), ("h", 3600.0)])
)
def test_multiples_of_aliases(count, unit):
    alias, seconds = unit
    assert parse_frequency(f"{count}{alias}") == pytest.approx(count * seconds)


def test_none_uses_documented_default_and_says_so():
    with pytest.warns(DefaultFrequencyWarning, match="freq="):
        assert parse_frequency(None) == DEFAULT_SECONDS_PER_STEP


def test_regular_datetime_index():
    assert parse_frequency(pd.date_range("2024-01-01", periods=10, freq="5min")) == 300.0
    no_freq = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=10, freq="15s").tolist())
    assert no_freq.freq is None
    assert parse_frequency(no_freq) == 15.0
    monthly = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=6, freq="MS").tolist())
    assert parse_frequency(monthly) == pytest.approx(MONTH)
    assert parse_frequency(pd.to_timedelta(np.arange(5) * 0.02, unit="s")) == pytest.approx(0.02)


def test_jittered_index_is_regular_enough():
    rng = np.random.default_rng(0)
    stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.arange(50) * 20.0 + rng.uniform(0, 0.1, 50), unit="ms"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_frequency(pd.DatetimeIndex(stamps)) == pytest.approx(0.02, rel=0.01)


def test_generic_month_offset_matches_the_month_alias():
    assert parse_frequency(pd.DateOffset(months=1)) == parse_frequency("MS") == parse_frequency("1M")


def test_time_zone_aware_index_without_freq():
    naive = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=10, freq="15s").tolist())
    aware = naive.tz_localize("America/New_York")
    assert aware.freq is None
    assert parse_frequency(aware) == 15.0
    irregular = aware[[0, 1, 2, 4, 5]]
    with pytest.warns(IrregularSamplingWarning):
        assert parse_frequency(irregular) == 15.0


def test_time_zone_aware_index_across_a_daylight_saving_shift_is_regular():
    hourly = pd.date_range("2024-03-30", periods=48, freq="h", tz="Europe/Berlin")
    stamps = pd.DatetimeIndex(hourly.tolist())
    assert stamps.freq is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_frequency(stamps) == 3600.0


def test_irregular_index_is_reported():
    index = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:03", "2024-01-01 00:04"])
    with pytest.warns(IrregularSamplingWarning, match="median step 60 s"):
        assert parse_frequency(index) == 60.0


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (pd.DatetimeIndex(["2024-01-02", "2024-01-01"]), "strictly increasing"),
        (pd.DatetimeIndex(["2024-01-01", "2024-01-01"]), "strictly increasing"),
        (pd.DatetimeIndex(["2024-01-01"]), "Cannot infer"),
        (pd.DatetimeIndex(["2024-01-01", None, "2024-01-03"]), "NaT"),
    ],
)
def test_bad_index(index, message):
    with pytest.raises(ValueError, match=message):
        parse_frequency(index)


@pytest.mark.parametrize("freq", ["fortnightly", "1 lightyear", "Hz", "", "5 per second"])
def test_unknown_strings_list_the_accepted_forms(freq):
    with pytest.raises(ValueError, match=r"Unknown frequency.*'50Hz'.*DatetimeIndex"):
        parse_frequency(freq)


@pytest.mark.parametrize(
    "freq", [0, -1, "-1", "0Hz", "inf", float("nan"), pd.Timedelta(0), True, object(), [1, 2]]
)
def test_invalid_values(freq):
    with pytest.raises(ValueError):
        parse_frequency(freq)


NEGATIVE_FREQS = [
    "-1D",
    "-5min",
    "-1MS",
    "-2W",
    "-15T",
    "-50Hz",
    "-0.5s",
    -2,
    -0.02,
    "-60",
    np.float32(-1),
    np.array(-1.0),
    pd.Timedelta("-1s"),
    datetime.timedelta(minutes=-2),
    pd.offsets.Day(-1),
    pd.offsets.MonthBegin(-1),
    pd.offsets.Hour(-3),
    pd.DateOffset(months=-1),
    pd.DateOffset(-1, days=1),
]


@pytest.mark.parametrize("freq", NEGATIVE_FREQS, ids=repr)
def test_negative_frequencies_are_rejected_in_every_form(freq):
    with pytest.raises(
        ValueError, match=r"positive, finite step.*pass the time between two consecutive steps"
    ):
        parse_frequency(freq)


@pytest.mark.parametrize(
    ("freq", "message"),
    [
        (10**400, "beyond the float range.*pass the time between"),
        (-(10**400), "beyond the float range"),
        (np.array([0.02, 0.02]), r"array of shape \(2,\); pass one frequency, or a list with one per sample"),
        (np.bool_(True), "must not be a bool"),
        (datetime.timedelta.max, "outside the range of a pd.Timedelta.*pass a shorter step"),
        (pd.DateOffset(month=3), r"sets calendar fields \(month\) but does not step; pass a step"),
    ],
    ids=["huge int", "huge negative int", "1-D array", "numpy bool", "huge timedelta", "anchor only"],
)
def test_unusable_frequencies_say_what_to_pass(freq, message):
    with pytest.raises(ValueError, match=message):
        parse_frequency(freq)
