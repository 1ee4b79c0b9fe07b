"""Sampling frequency -> seconds per step.

SLIP picks a patch size from how often a series is sampled (see `patch_policy`), so every way users state a
sampling rate must land on one number: the seconds between two consecutive steps. `parse_frequency` accepts

- pandas offset aliases and their multiples: "s", "1min", "5min", "h", "2h", "D", "W", "MS", "QS", "YS", ...
  Legacy aliases that pandas 3 dropped ("15T", "H", "S", "L", "M", "Q", "A", ...) are still understood.
- rates: "50Hz", "100 Hz", "0.5Hz", "1kHz";
- durations: "10ms", "0.02s", "1 min" (parsed by pandas), or a plain number of seconds (int, float, "60");
- a `pd.Timedelta`, `datetime.timedelta`, `np.timedelta64` or `pd.DateOffset` (an offset alias's class, such as
  `pd.offsets.Hour(3)`, or a generic one such as `pd.DateOffset(months=1)`);
- numpy scalars and 0-d arrays of any of these;
- a `pd.DatetimeIndex` / `pd.TimedeltaIndex` of timestamps: the step is inferred. Steps that vary by more than
  `IRREGULAR_TOLERANCE` are reported with an `IrregularSamplingWarning` and the median step is used;
- `None`: `DEFAULT_SECONDS_PER_STEP` (one second) is used and a `DefaultFrequencyWarning` says so. One second
  falls in the second-level class, whose candidate set is the widest, so the patch size then follows the
  series length alone.

Calendar offsets have no fixed length; they count with the average Gregorian lengths below (a month is
365.2425 / 12 days), and business days / hours count as one calendar day / hour, the spacing of their steps.
A generic `pd.DateOffset` steps by the sum of its plural fields (`months=1, days=2`), each counted the same
way; its singular fields (`day=1`) only anchor the steps, and one with no plural field steps by `n` days, as
pandas does. Every form must give a positive step: negative multiples ("-1D", "-5min", -2, "-50Hz") are
rejected alike.
"""

from __future__ import annotations

import datetime
import math
import re
import sys
import warnings

import numpy as np
import pandas as pd

DEFAULT_SECONDS_PER_STEP = 1.0
IRREGULAR_TOLERANCE = 0.01

_DAY = 86_400.0
_YEAR = 365.2425 * _DAY
_MONTH = _YEAR / 12
# Average length of one step of the calendar offsets, keyed by the offset's rule code (the part before "-").
# Old pandas names ("M", "Q", "A", ...) are included for pandas < 2.2, where offsets still report them.
_CALENDAR_SECONDS = {
    **dict.fromkeys(("D", "B", "C"), _DAY),
    "W": 7 * _DAY,
    **dict.fromkeys(("SMS", "SME", "SM"), _MONTH / 2),
    **dict.fromkeys(("MS", "ME", "BMS", "BME", "CBMS", "CBME", "WOM", "LWOM", "M", "BM", "CBM"), _MONTH),
    **dict.fromkeys(("QS", "QE", "BQS", "BQE", "REQ", "Q", "BQ"), 3 * _MONTH),
    **dict.fromkeys(("YS", "YE", "BYS", "BYE", "RE", "Easter", "A", "AS", "BA", "BAS", "Y", "BY"), _YEAR),
    **dict.fromkeys(("bh", "cbh", "BH", "CBH"), 3600.0),
}
# Aliases removed in pandas 3, mapped to their current spelling.
_LEGACY_ALIASES = {
    "T": "min",
    "H": "h",
    "S": "s",
    "L": "ms",
    "U": "us",
    "N": "ns",
    "M": "ME",
    "BM": "BME",
    "CBM": "CBME",
    "SM": "SME",
    "Q": "QE",
    "BQ": "BQE",
    "A": "YE",
    "Y": "YE",
    "BA": "BYE",
    "BY": "BYE",
    "AS": "YS",
    "BAS": "BYS",
}
# Signs are matched so that a negative rate or multiple is reported as such, not as an unknown frequency.
_RATE = re.compile(r"^\s*(?P<value>[+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>[kKmM]?)[hH][zZ]\s*$")
_ALIAS = re.compile(r"^\s*(?P<count>[+-]?[0-9]*\.?[0-9]*)\s*(?P<unit>[A-Za-z]+)(?P<anchor>-\w+)?\s*$")
# Mean length of one unit of each plural field of a generic `pd.DateOffset` (dateutil's relativedelta fields).
_DATE_OFFSET_SECONDS = {
    "years": _YEAR,
    "months": _MONTH,
    "weeks": 7 * _DAY,
    "days": _DAY,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
    "milliseconds": 1e-3,
    "microseconds": 1e-6,
    "nanoseconds": 1e-9,
}
_RATE_UNITS = {"": 1.0, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6}

ACCEPTED_FORMS = (
    "a pandas offset alias with an optional multiple ('s', '1min', '15min', 'h', '2h', 'D', 'W', 'MS'), "
    "a rate ('50Hz', '100 Hz', '0.5Hz'), a duration ('10ms', '0.02s'), a number of seconds (0.02), "
    "a pd.Timedelta / datetime.timedelta / pd.DateOffset, a pd.DatetimeIndex of timestamps, or None "
    f"(assumes {DEFAULT_SECONDS_PER_STEP:g} s per step)"
)


_PASS_A_STEP = "pass the time between two consecutive steps, e.g. '50Hz', '1min' or 0.02"


class IrregularSamplingWarning(UserWarning):
    """Timestamps are not evenly spaced; the median step was used."""


class DefaultFrequencyWarning(UserWarning):
    """No sampling frequency was given; `DEFAULT_SECONDS_PER_STEP` was used."""


def parse_frequency(freq: object) -> float:
    """Return the seconds between two steps for any accepted form of `freq` (see the module docstring)."""
    if freq is None:
        warnings.warn(
            f"No sampling frequency given; assuming {DEFAULT_SECONDS_PER_STEP:g} s per step. Pass freq= "
            "(e.g. '50Hz', '1min', 'D') or a DatetimeIndex so the patch size suits the data.",
            DefaultFrequencyWarning,
            stacklevel=2,
        )
        return DEFAULT_SECONDS_PER_STEP
    if isinstance(freq, np.ndarray):
        freq = _scalar_from_array(freq)
    if isinstance(freq, (bool, np.bool_)):
        raise ValueError(f"freq must not be a bool; pass {ACCEPTED_FORMS}.")
    if isinstance(freq, (pd.Timedelta, datetime.timedelta, np.timedelta64)):
        return _seconds_from_timedelta(freq)
    if isinstance(freq, (int, float, np.integer, np.floating)):
        return _seconds_from_number(freq)
    if isinstance(freq, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        return _seconds_from_index(freq)
    if isinstance(freq, pd.DateOffset):
        return _seconds_from_offset(freq)
    if isinstance(freq, str):
        return _seconds_from_string(freq)
    raise ValueError(f"Unsupported freq of type {type(freq).__name__}; pass {ACCEPTED_FORMS}.")


def _scalar_from_array(array: np.ndarray) -> object:
    """The numpy scalar a 0-d array holds; a larger array is not one frequency."""
    if array.ndim != 0:
        raise ValueError(
            f"freq is an array of shape {array.shape}; pass one frequency, or a list with one per sample."
        )
    return array[()]


def _seconds_from_number(number: float | int | np.integer | np.floating) -> float:
    try:
        seconds = float(number)
    except OverflowError as error:
        raise ValueError(
            f"freq is a number beyond the float range (magnitude above {sys.float_info.max:.3g} s); {_PASS_A_STEP}."
        ) from error
    return _positive_seconds(seconds, number)


def _seconds_from_timedelta(delta: datetime.timedelta | np.timedelta64) -> float:
    try:
        seconds = pd.Timedelta(delta).total_seconds()
    except (OverflowError, ValueError) as error:
        raise ValueError(
            f"freq={delta!r} is outside the range of a pd.Timedelta (about 292 years); pass a shorter step, e.g. "
            "pd.Timedelta('1D') or 'YS'."
        ) from error
    return _positive_seconds(seconds, delta)


def _positive_seconds(seconds: float, original: object) -> float:
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(
            f"freq must give a positive, finite step, got {original!r} ({seconds:g} s); {_PASS_A_STEP}."
        )
    return seconds


def _seconds_from_string(text: str) -> float:
    rate = _RATE.match(text)
    if rate:
        hertz = float(rate["value"]) * _RATE_UNITS[rate["unit"]]
        return _positive_seconds(1.0 / hertz if hertz != 0 else math.inf, text)
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return _positive_seconds(seconds, text)
    offset = _to_offset(text)
    if offset is None:
        raise ValueError(f"Unknown frequency {text!r}; pass {ACCEPTED_FORMS}.")
    return _seconds_from_offset(offset)


def _to_offset(text: str) -> pd.DateOffset | None:
    """Parse with pandas; on failure retry with a legacy alias ('15T', 'H', 'M') translated."""
    candidates = [text.strip()]
    alias = _ALIAS.match(text)
    if alias and alias["unit"] in _LEGACY_ALIASES:
        candidates.append(f"{alias['count']}{_LEGACY_ALIASES[alias['unit']]}{alias['anchor'] or ''}")
    for candidate in candidates:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return pd.tseries.frequencies.to_offset(candidate)
        except ValueError:
            continue
    return None


def _seconds_from_offset(offset: pd.DateOffset) -> float:
    if isinstance(offset, pd.offsets.Tick):
        return _positive_seconds(offset.nanos / 1e9, offset)
    if type(offset) is pd.DateOffset:
        return _positive_seconds(offset.n * _date_offset_unit_seconds(offset), offset)
    code = offset.rule_code.split("-")[0]
    if code not in _CALENDAR_SECONDS:
        raise ValueError(f"Cannot give a step length for the offset {offset!r}; pass {ACCEPTED_FORMS}.")
    return _positive_seconds(offset.n * _CALENDAR_SECONDS[code], offset)


def _date_offset_unit_seconds(offset: pd.DateOffset) -> float:
    """Mean length of one step (n=1) of a generic `pd.DateOffset`: its plural fields summed; singular fields
    only anchor the step (module docstring)."""
    steps = {key: value for key, value in offset.kwds.items() if key in _DATE_OFFSET_SECONDS}
    if not offset.kwds:
        return _DAY
    if not steps:
        raise ValueError(
            f"{offset!r} sets calendar fields ({', '.join(offset.kwds)}) but does not step; pass a step such as "
            "pd.DateOffset(months=1), 'MS' or '1D'."
        )
    return sum(value * _DATE_OFFSET_SECONDS[key] for key, value in steps.items())


def _seconds_from_index(index: pd.DatetimeIndex | pd.TimedeltaIndex) -> float:
    """The index's own freq, else its inferred or median step. Time-zone-aware timestamps are compared in
    UTC, so a daylight-saving shift does not make a regular series look irregular."""
    if index.freq is not None:
        return _seconds_from_offset(index.freq)
    if isinstance(index, pd.DatetimeIndex) and index.tz is not None:
        index = index.tz_convert(None)
    if len(index) < 2:
        raise ValueError(
            f"Cannot infer a sampling frequency from {len(index)} timestamp(s); pass freq= explicitly."
        )
    if index.hasnans:
        raise ValueError("The time index contains NaT; drop those rows or pass freq= explicitly.")
    steps = np.diff(index.to_numpy()) / np.timedelta64(1, "s")
    if np.any(steps <= 0):
        raise ValueError(
            "Timestamps must be strictly increasing (found repeated or decreasing ones); sort the index "
            "(df.sort_index()) and drop duplicates, or pass freq= explicitly."
        )
    if len(index) >= 3:
        inferred = pd.infer_freq(index)
        if inferred is not None:
            return _seconds_from_offset(pd.tseries.frequencies.to_offset(inferred))
    median = float(np.median(steps))
    low, high = float(steps.min()), float(steps.max())
    if high - low > IRREGULAR_TOLERANCE * median:
        warnings.warn(
            f"Irregular timestamps: steps range from {low:g} s to {high:g} s; using the median step {median:g} s. "
            "Resample to a fixed rate first (e.g. df.resample('1min').mean()) or pass freq= to silence this.",
            IrregularSamplingWarning,
            stacklevel=3,
        )
    return median
