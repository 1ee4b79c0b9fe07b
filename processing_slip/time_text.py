"""How numbers, durations and sampling rates are written in text.

The corpus captions (`hub_datasets.captions`) and the series metadata the processor writes for the decoder
(`processing_slip.series_metadata`) use these same words, so a model that reads "50 Hz" in its metadata sees
the words its captions state the rate in.
"""

from __future__ import annotations

import math

ELAPSED_UNITS = (  # (name in "at 2.5 s", singular name in "per second", seconds, upper bound of use in s)
    ("s", "second", 1.0, 120.0),
    ("min", "minute", 60.0, 7200.0),
    ("h", "hour", 3600.0, 72 * 3600.0),
    ("days", "day", 86400.0, 3 * 365.25 * 86400.0),
    ("years", "year", 365.25 * 86400.0, math.inf),
)


def decimals_for(scale: float, significant: int = 3) -> int:
    """Decimal places that keep ``significant`` figures of ``scale`` (negative: round to tens, hundreds...)."""
    if not math.isfinite(scale) or scale <= 0:
        return 0
    return int(min(max(significant - 1 - math.floor(math.log10(scale)), -15), 12))


def format_number(value: float, decimals: int) -> str:
    """A plain decimal (never an exponent) rounded to ``decimals`` places; no negative zero."""
    rounded = round(float(value), decimals) + 0.0
    return f"{rounded:.{max(decimals, 0)}f}"


def format_significant(value: float, significant: int = 3, *, trim: bool = False) -> str:
    """``value`` rounded to ``significant`` figures of its own magnitude; ``trim`` drops trailing zeros."""
    text = format_number(value, decimals_for(abs(value), significant))
    return text.rstrip("0").rstrip(".") if trim and "." in text else text


def duration_text(seconds: float) -> str:
    """A time span in the unit that suits its length, to 3 significant figures: '2.56 s', '10 min'. A unit is
    left for the next one from 1.5x below its upper bound, so that 100 s reads '1.67 min', not '100 s'."""
    name, _, unit_seconds, _ = next(u for u in ELAPSED_UNITS if seconds < u[3] / 1.5 or u[3] == math.inf)
    return f"{format_significant(seconds / unit_seconds, trim=True)} {name}"


def rate_hz_text(seconds_per_step: float) -> str:
    """The sampling rate in Hz, to 3 significant figures ('50', '0.5'), as captions state rates faster than one
    step per second."""
    return format_significant(1.0 / seconds_per_step, trim=True)
