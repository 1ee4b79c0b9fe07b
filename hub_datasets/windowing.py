"""Cutting recordings into windows of many lengths and sampling rates.

The corpus needs the same signal seen at several scales: `random_window` draws a window length from
`WINDOW_LENGTHS` and a decimation factor from `DECIMATION_FACTORS`, so a 50 Hz recording also yields 25 Hz,
10 Hz and 5 Hz windows. Decimation low-pass filters first (polyphase FIR, `scipy.signal.resample_poly`); a
window with missing steps is instead averaged over blocks ignoring NaN, so a gap stays a gap rather than
smearing NaN over its neighbours. Evaluation sets use fixed `sliding_windows`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

WINDOW_LENGTHS = (64, 96, 128, 192, 256, 384, 512, 768, 1024)
DECIMATION_FACTORS = (1, 2, 4, 5, 10)
_FILTER_MARGIN = 10
"""Extra input steps per decimation factor on each side, so the FIR filter's edge effects fall outside."""


@dataclass(frozen=True)
class Window:
    """``values`` (C, length) cut from ``[start, stop)`` of the source recording, decimated by ``factor``."""

    values: np.ndarray
    start: int
    stop: int
    factor: int


def sliding_windows(length: int, window: int, step: int) -> list[tuple[int, int]]:
    """All ``[start, stop)`` windows of ``window`` steps every ``step`` steps that fit inside ``length``."""
    if window <= 0 or step <= 0:
        raise ValueError(f"window and step must be positive, got window={window}, step={step}.")
    return [(start, start + window) for start in range(0, length - window + 1, step)]


def decimate(values: np.ndarray, factor: int) -> np.ndarray:
    """(C, L) -> (C, L // factor): anti-aliased when fully observed, NaN-aware block means otherwise."""
    if factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}.")
    if factor == 1:
        return values
    usable = values.shape[1] // factor * factor
    if np.isnan(values).any():
        blocks = values[:, :usable].reshape(values.shape[0], -1, factor)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(blocks, axis=-1).astype(np.float32)
    return resample_poly(values[:, :usable], 1, factor, axis=1).astype(np.float32)


def scale_freq(freq: str, factor: int) -> str:
    """Frequency string after keeping one step in ``factor``: "50Hz" -> "10Hz" (factor 5), "W" -> "2W"."""
    if factor == 1:
        return freq
    rate = re.fullmatch(r"([0-9.]+)Hz", freq)
    if rate:
        return f"{float(rate[1]) / factor:g}Hz"
    alias = re.fullmatch(r"([0-9]*)([A-Za-z]+)", freq)
    if alias is None:
        raise ValueError(
            f"Cannot scale the frequency {freq!r}; use 'NHz' or a pandas alias such as '5min' or 'W'."
        )
    return f"{int(alias[1] or 1) * factor}{alias[2]}"


def random_window(
    values: np.ndarray,
    rng: np.random.Generator,
    lengths: Sequence[int] = WINDOW_LENGTHS,
    factors: Sequence[int] = DECIMATION_FACTORS,
) -> Window | None:
    """A window of a random length from ``lengths`` at a random decimation from ``factors``.

    Only (length, factor) pairs that fit the recording are drawn from; returns None when even the
    shortest undecimated window does not fit.
    """
    total = values.shape[1]
    options = [(length, factor) for factor in factors for length in lengths if length * factor <= total]
    if not options:
        return None
    length, factor = options[rng.integers(len(options))]
    span = length * factor
    start = int(rng.integers(total - span + 1))
    if factor == 1:
        return Window(values[:, start : start + span], start, start + span, 1)
    margin = _FILTER_MARGIN * factor
    lo, hi = max(0, start - margin), min(total, start + span + margin)
    lo = start - (start - lo) // factor * factor
    decimated = decimate(values[:, lo:hi], factor)
    offset = (start - lo) // factor
    return Window(decimated[:, offset : offset + length], start, start + span, factor)
