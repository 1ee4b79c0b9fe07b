"""Statistics and structure detectors behind the hierarchical captions.

Every detector reports only what it is confident of, so that a caption built from its results states
nothing untrue about the series: a period must be confirmed by the autocorrelation, a level shift by a
joint local step + line fit that is significant against the residual noise, a spike must stand far out of
the residual after trend, cycle and shifts are removed, and a trend direction is stated only when the
slope is significant against autocorrelated noise and larger than what a leftover cycle could fake.

All channels of a series are analysed together: (C, L) arrays for the fits, one FFT for every spectrum and
autocorrelation, prefix sums for every line fit. Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import irfft, next_fast_len, rfft

MIN_STRUCTURE_LENGTH = 8
"""Shorter series get statistics only: trends, cycles and spikes cannot be told apart in fewer steps."""

# Values marked "calibrated" were set on synthetic series of known structure, so that no stated period,
# spike, level shift or trend direction is false while most sampled ones are still found: the truth tests
# in tests/test_captions.py check both.

_MAD_TO_STD = 1.4826
"""1 / Phi^-1(3/4): the median absolute deviation of Gaussian noise times this is its standard deviation."""
_SPIKE_Z = 6.0
"""Robust spreads a spike must stand out by: Gaussian noise goes that far about twice in a billion steps."""
_SPIKE_OVER_CYCLE = 1.0
"""A spike must also exceed the cycle amplitude, so a cycle peak the phase profile flattens is no spike."""
_SPIKE_FLOOR_OF_SIGNAL = 1e-3
"""Lowest spike threshold, as a share of the signal std: on a noise-free series, rounding is no spike."""
_SPREAD_FLOOR_OF_SIGNAL = 1e-9
"""Stand-in spread where the running-median residual is exactly zero (piecewise-constant series)."""
_MAX_SPIKE_RUN = 3
"""Longest run of outlying steps that is still a spike; a running median over 2 x 3 + 1 steps ignores it."""
_BREAK_MARGIN = 4
"""Spikes closer than this to a trend break or level shift are dropped: the fit's own edge is unsure there."""
_SHIFT_Z = 6.0
"""Noise stds a level shift must exceed: the spike bar, so no jump smaller than a spike is called a shift."""
_SHIFT_T = 8.0
"""t statistic a jump needs: the scan keeps the best of about L tests on correlated residuals; calibrated."""
_SHIFT_OF_SIGNAL = 0.1
"""A shift must also reach a tenth of the channel's std: a smaller one is too small a part of the signal."""
_SUSPECT_T = 4.0
"""Half the shift bar: a jump this strong is not stated, but no trend slope it could explain is claimed."""
_SHIFT_WINDOW = 16
"""Steps fitted each side of a candidate shift (at most L / 8): a sloped line fits, a curve looks straight."""
_MIN_SHIFT_WINDOW = 5
"""Below this many steps per side (series under 40 steps) no shift is scanned: too few points to test one."""
_MIN_WINDOW_COVERAGE = 0.5
"""Share of each side's window that must be observed (not missing, not a spike) to test a boundary."""
_MAX_SHIFTS = 3
"""Level shifts per channel at most: a caption states a few structural changes, not every step of a stair."""
_CONFIRM_REACH = 4
"""The confirming fit spans this many scan windows on each side: a slow bend that looked like a step fades."""
_MIN_CONFIRM_POINTS = 8
"""Points the three-parameter confirming fit (level, slope, step) needs to leave a residual to test it by."""
_MIN_CONFIRM_SIDE = 3
"""Points needed on each side of a shift in the confirming fit, so the step is not fitted to one or two."""
_SHIFT_SIZE_SHARE = 0.5
"""Share of a scanned shift's size the confirming fit must find; so that much of it may stay behind."""
_SHIFT_SLOPE_LEVERAGE = 1.5
"""A step J inside a segment of n steps moves its least-squares slope by at most 1.5 J / n (mid-segment)."""
_EDGE_STEPS = 3
"""A hidden jump with fewer steps than this on one side within a segment moves only end points: ignored."""
_TREND_T = 5.0
"""t statistic a segment slope needs, its standard error inflated for lag-1 autocorrelation; calibrated."""
_MAX_RESIDUAL_RHO = 0.95
"""Cap of that lag-1 autocorrelation: the inflation sqrt((1 + rho) / (1 - rho)) stays below 6.3."""
_TREND_NOISE_Z = 3.0
"""The change over a directed segment must exceed three noise stds, so it is visible above the noise..."""
_TREND_OF_SIGNAL = 0.05
"""... a twentieth of the channel's std, so a negligible drift on a large signal is not stated..."""
_TREND_OVER_CYCLE = 0.5
"""... and half the cycle amplitude, as much change as a leftover of the cycle can fake."""
_MIN_TREND_CYCLES = 2.0
"""A directed segment must span two cycles, so its slope is not the rise of part of a cycle."""
_MIN_SEGMENT_LENGTH = MIN_STRUCTURE_LENGTH
"""Shortest trend segment in steps: a segment is judged like a series of its own."""
_SEGMENT_FRACTION = 10
"""Trend segments span at least a tenth of the series: the trend is the slow part, not every wiggle."""
_MIN_CYCLES = 5.0
"""A period must fit five times into the series, so its recurrence can be checked two periods apart."""
_MIN_PERIOD = 3.0
"""Shortest period in steps: a two-step alternation sits at the Nyquist limit, where noise looks the same."""
_ZERO_PADDING = 4
"""FFT length as a multiple of the series: the periodogram is sampled finely for the parabolic peak fit."""
_PERIOD_CANDIDATES = 3
"""Periodogram peaks tried in order of power; the first that passes the autocorrelation tests is taken."""
_ACF_AT_PERIOD = 0.3
"""Autocorrelation needed one and two periods apart: a cycle must recur, not only show in a spectrum."""
_ACF_CONTRAST = 0.6
"""Autocorrelation excess at one and two periods over a half and one and a half: a sine has 2, a drift < 0."""
_MIN_SEASONAL_SHARE = 0.2
"""A cycle explaining under a fifth of the detrended variance is too weak to state."""
_HALVES_CORRELATION = 0.5
"""Correlation the cycle profiles of the two halves need: a cycle keeps its shape, a random walk does not."""
_MAX_PHASE_BINS = 64
"""Phase bins of a seasonal profile at most: enough for a cycle's shape, and each bin still averages steps."""
_GRID_POINTS = 24
"""Candidate breaks of the exhaustive search (24 x 24 pairs stay one table); refinement then moves them."""
_SSE_FLOOR = 1e-4
"""Least mean squared residual (standardised series) the break criterion counts: a hundredth of the std."""
_BREAK_PENALTY = 4.5
"""Criterion cost of a break per log n: 1.5 x BIC's for the 3 parameters it adds (position, level, slope)."""


@dataclass(frozen=True)
class ChannelStats:
    """Summary statistics of a channel over its observed (non-NaN) steps; NaN fields when none is observed."""

    mean: float
    std: float
    min: float
    max: float
    argmin: int
    argmax: int
    missing_fraction: float

    @property
    def observed(self) -> bool:
        return self.missing_fraction < 1.0

    @property
    def constant(self) -> bool:
        return self.observed and self.max == self.min


@dataclass(frozen=True)
class TrendSegment:
    """A straight-line piece of the trend over steps [start, end); ``direction`` is 0 when not significant."""

    start: int
    end: int
    slope: float
    direction: int

    @property
    def change(self) -> float:
        return self.slope * (self.end - 1 - self.start)


@dataclass(frozen=True)
class Spike:
    """An isolated excursion: ``position`` is its peak step and ``value`` the series value there."""

    position: int
    value: float
    direction: int


@dataclass(frozen=True)
class LevelShift:
    """A jump of the level between steps ``position - 1`` and ``position``."""

    position: int
    size: float


@dataclass(frozen=True)
class ChannelStructure:
    """What the decomposition found in one channel (trend + level shifts + seasonal cycle + residual)."""

    segments: tuple[TrendSegment, ...]
    period: float | None
    seasonal_amplitude: float
    noise_std: float
    spikes: tuple[Spike, ...]
    level_shifts: tuple[LevelShift, ...]
    signal_std: float


def channel_stats(series: np.ndarray) -> list[ChannelStats]:
    """Per-channel statistics of a (C, L) array, NaN ignored; vectorised over channels."""
    observed = np.isfinite(series)
    count = observed.sum(axis=1)
    safe_count = np.maximum(count, 1)
    mean = np.where(observed, series, 0.0).sum(axis=1) / safe_count
    var = (np.where(observed, series - mean[:, None], 0.0) ** 2).sum(axis=1) / safe_count
    high = np.where(observed, series, -np.inf)
    low = np.where(observed, series, np.inf)
    argmax = high.argmax(axis=1)
    argmin = low.argmin(axis=1)
    length = series.shape[1]
    stats = []
    for c in range(series.shape[0]):
        if count[c]:
            stats.append(
                ChannelStats(
                    mean=float(mean[c]),
                    std=float(np.sqrt(var[c])),
                    min=float(low[c, argmin[c]]),
                    max=float(high[c, argmax[c]]),
                    argmin=int(argmin[c]),
                    argmax=int(argmax[c]),
                    missing_fraction=float(1.0 - count[c] / length),
                )
            )
        else:
            stats.append(ChannelStats(*(float("nan"),) * 4, -1, -1, 1.0))
    return stats


def fill_missing(y: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN steps (constant at the ends); for spectra and correlations only."""
    observed = np.isfinite(y)
    if observed.all():
        return y
    steps = np.arange(y.shape[0])
    return np.interp(steps, steps[observed], y[observed])


def _fill_rows(series: np.ndarray) -> np.ndarray:
    """`fill_missing` per row of a (C, L) array; rows without any observed step become zeros."""
    observed = np.isfinite(series)
    if observed.all():
        return series
    return np.stack(
        [fill_missing(row) if ok.any() else np.zeros_like(row) for row, ok in zip(series, observed)]
    )


def correlation_matrix(series: np.ndarray) -> np.ndarray:
    """Pearson correlation between channels on gap-filled values; NaN for constant or empty channels."""
    centred = _fill_rows(series)
    centred = centred - centred.mean(axis=1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred @ centred.T) / np.outer(norm, norm)
    corr[norm == 0, :] = np.nan
    corr[:, norm == 0] = np.nan
    return np.clip(corr, -1.0, 1.0)


def _take(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Row-wise gather ``table[c, index[c, ...]]`` (a flat fancy index: much cheaper than take_along_axis)."""
    rows, width = table.shape
    offsets = (np.arange(rows) * width).reshape((rows,) + (1,) * (index.ndim - 1))
    return table.reshape(-1)[index + offsets]


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row over the steps where ``mask`` is True (NaN for an empty row)."""
    count = mask.sum(axis=1)
    if count.min() == values.shape[1]:
        middle = [(values.shape[1] - 1) // 2, values.shape[1] // 2]
        return np.partition(values, middle, axis=1)[:, middle].mean(axis=1)
    ordered = np.sort(np.where(mask, values, np.inf), axis=1)
    low = np.maximum((count - 1) // 2, 0)
    middle = 0.5 * (_take(ordered, low[:, None]) + _take(ordered, (count // 2)[:, None]))[:, 0]
    return np.where(count > 0, middle, np.nan)


def _robust_std(residual: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(median, MAD-based std) of each row over ``mask``."""
    centre = _masked_median(residual, mask)
    return centre, _MAD_TO_STD * _masked_median(np.abs(residual - centre[:, None]), mask)


def _running_median(values: np.ndarray, size: int) -> np.ndarray:
    """Centred running median of each row over ``size`` (odd) steps, the ends repeated outward."""
    half = size // 2
    padded = np.concatenate(
        [np.repeat(values[:, :1], half, axis=1), values, np.repeat(values[:, -1:], half, axis=1)], axis=1
    )
    return np.partition(sliding_window_view(padded, size, axis=1), half, axis=2)[..., half]


@lru_cache(maxsize=64)
def _fft_plan(length: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Per length: FFT size (zero padded), ACF normaliser (overlap counts) and candidate frequency range."""
    n_fft = next_fast_len(_ZERO_PADDING * length)
    overlap = (length - np.arange(length)).astype(np.float64)
    bins = np.arange(1, n_fft // 2)
    in_range = (bins / n_fft >= _MIN_CYCLES / length) & (bins / n_fft <= 1.0 / _MIN_PERIOD)
    return n_fft, overlap, in_range


def _detect_periods(residuals: np.ndarray) -> np.ndarray:
    """Dominant period in steps of each detrended, gap-free row of (C, L); NaN where no cycle is clear.

    Candidates are the three strongest peaks of a 4x zero-padded periodogram (parabolic interpolation gives
    sub-bin precision); the strongest one is accepted whose autocorrelation is high one and two periods
    apart and much lower half and one and a half periods apart, which rejects steps, drifts, noise and the
    arcs a piecewise-linear fit leaves on a curved trend. At least five cycles are required.
    """
    channels, length = residuals.shape
    if length < 2 * _MIN_PERIOD:
        return np.full(channels, np.nan)
    n_fft, overlap, in_range = _fft_plan(length)
    centred = residuals - residuals.mean(axis=1, keepdims=True)
    power = np.abs(rfft(centred, n_fft, axis=1)) ** 2
    acf = irfft(power, n_fft, axis=1)[:, :length] / overlap
    acf /= np.where(acf[:, :1] > 0, acf[:, :1], np.inf)
    inner = power[:, 1:-1]
    peak_power = np.where((inner > power[:, :-2]) & (inner >= power[:, 2:]) & in_range, inner, 0.0)
    top = np.argpartition(-peak_power, _PERIOD_CANDIDATES - 1, axis=1)[:, :_PERIOD_CANDIDATES]
    top = np.take_along_axis(top, np.argsort(-_take(peak_power, top), axis=1), axis=1)
    valid = _take(peak_power, top) > 0
    k = top + 1
    log_power = np.log(power + 1e-300)
    left, mid, right = _take(log_power, k - 1), _take(log_power, k), _take(log_power, k + 1)
    curvature = left - 2 * mid + right
    offset = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    period = n_fft / (k + offset)
    valid &= period <= length / _MIN_CYCLES
    at = np.minimum(period[:, :, None] * np.array([1.0, 2.0, 0.5, 1.5]), length - 1.0)
    floor = np.minimum(at.astype(np.int64), length - 2)
    fraction = at - floor
    acf_at = _take(acf, floor) * (1 - fraction) + _take(acf, floor + 1) * fraction
    high, low = acf_at[..., :2], acf_at[..., 2:]
    valid &= (high >= _ACF_AT_PERIOD).all(axis=2) & (high - low >= _ACF_CONTRAST).all(axis=2)
    first = valid.argmax(axis=1)
    rows = np.arange(channels)
    return np.where(valid[rows, first], period[rows, first], np.nan)


def detect_period(residual: np.ndarray) -> float | None:
    """Dominant period in steps of one detrended, gap-free series, or None when no cycle is clear."""
    period = _detect_periods(np.asarray(residual, dtype=np.float64)[None, :])[0]
    return None if np.isnan(period) else float(period)


def _seasonal_components(values: np.ndarray, weights: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Zero-mean periodic profile of each row (phase-binned weighted means, interpolated); 0 where no period.

    Row c is cut into ``round(periods[c])`` phase bins (at most 64); the profile is interpolated linearly
    between bin centres, wrapping around the cycle.
    """
    channels, length = values.shape
    season = np.zeros_like(values)
    rows = np.flatnonzero(np.isfinite(periods))
    if rows.size == 0:
        return season
    period = periods[rows, None]
    bins = np.clip(np.round(period), 2, _MAX_PHASE_BINS).astype(np.int64)
    position = (np.arange(length) % period) / period * bins
    index = (np.floor(position + 0.5).astype(np.int64) % bins) + _MAX_PHASE_BINS * np.arange(rows.size)[
        :, None
    ]
    size = _MAX_PHASE_BINS * rows.size
    w = weights[rows]
    totals = np.bincount(index.ravel(), weights=(w * values[rows]).ravel(), minlength=size)
    counts = np.bincount(index.ravel(), weights=w.ravel(), minlength=size)
    totals, counts = totals.reshape(rows.size, -1), counts.reshape(rows.size, -1)
    present = counts > 0
    profile = np.where(present, totals / np.where(present, counts, 1.0), 0.0)
    profile -= profile.sum(axis=1, keepdims=True) / np.maximum(present.sum(axis=1, keepdims=True), 1)
    profile = np.where(present, profile, 0.0)
    low = np.floor(position).astype(np.int64)
    fraction = position - low
    low %= bins
    season[rows] = _take(profile, low) * (1 - fraction) + _take(profile, (low + 1) % bins) * fraction
    return season


def _cycles(values: np.ndarray, weights: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Seasonal component of each row (0 where no period), robust to trends and level shifts.

    The row is first detrended by a centred moving average over one period, which removes the cycle and
    follows any trend or step; the profile is then the phase-binned mean of what remains. A profile from
    a global detrend instead would turn a level shift into a periodic pattern (phases seen once more after
    the step than before it), and that pattern into false steps one period apart. The half period at each
    end, where the average is lopsided, is left out.
    """
    channels, length = values.shape
    rows = np.flatnonzero(np.isfinite(periods))
    if rows.size == 0:
        return np.zeros_like(values)
    window = np.maximum(np.round(periods[rows]), 2).astype(np.int64)[:, None]
    steps = np.arange(length)
    low, high = np.maximum(steps - window // 2, 0), np.minimum(steps - window // 2 + window, length)
    cumulative = np.zeros((rows.size, length + 1))
    np.cumsum(values[rows], axis=1, out=cumulative[:, 1:])
    average = (_take(cumulative, high) - _take(cumulative, low)) / (high - low)
    inside = (steps >= window // 2) & (steps < length - window + window // 2 + 1)
    detrended = np.zeros_like(values)
    detrended[rows] = values[rows] - average
    trusted = np.zeros_like(weights)
    trusted[rows] = weights[rows] * inside
    return _seasonal_components(detrended, trusted, periods)


def seasonal_component(values: np.ndarray, observed: np.ndarray, period: float) -> np.ndarray:
    """Zero-mean periodic profile of ``values`` at ``period`` steps, evaluated at every step."""
    weights = np.asarray(observed, dtype=np.float64)[None, :]
    return _seasonal_components(np.where(weights > 0, values, 0.0)[None, :], weights, np.array([period]))[0]


class _LineFits:
    """O(1) weighted least-squares line fits of each row over any step range, from prefix sums.

    Time is centred and scaled (``t``) so the sums stay well conditioned for any length. The six prefix
    sums (weight, t, t^2, y, t*y, y^2) are kept as six flat rows, so gathering them for many ranges at
    once is one `np.take` with contiguous results.
    """

    def __init__(self, values: np.ndarray, weights: np.ndarray):
        channels, length = values.shape
        self.length = length
        self.t = (np.arange(length) - (length - 1) / 2) / length
        y = np.where(weights > 0, values, 0.0)
        wt, wy = weights * self.t, weights * y
        sums = np.zeros((6, channels, length + 1))
        np.cumsum(np.stack([weights, wt, wt * self.t, wy, wy * self.t, wy * y]), axis=2, out=sums[:, :, 1:])
        self.sums = sums.reshape(6, -1)
        self.offsets = np.arange(channels) * (length + 1)

    def at(self, index: np.ndarray) -> np.ndarray:
        """The six prefix sums before step ``index[c, ...]`` of row c: shape (6, *index.shape)."""
        return np.take(self.sums, index + self.offsets.reshape((-1,) + (1,) * (index.ndim - 1)), axis=1)

    def fit(self, start: np.ndarray, end: np.ndarray) -> _Line:
        """The line over [start, end) of each row; ``start`` and ``end`` are (C, ...) index arrays."""
        return _Line(self.at(end) - self.at(start))


class _Line:
    """A weighted least-squares line from its six sums (6, ...): weight, t, t^2, y, t*y, y^2."""

    def __init__(self, moments: np.ndarray):
        n, st, stt, sy, sty, syy = moments
        self.n = n
        n_safe = np.maximum(n, 1e-12)
        self.t_mean = st / n_safe
        self.var_t = stt - st * self.t_mean
        cov = sty - self.t_mean * sy
        ok = self.var_t > 1e-12
        self.slope = np.where(ok, cov / np.where(ok, self.var_t, 1.0), 0.0)
        self.intercept = (sy - self.slope * st) / n_safe
        self.sse = np.maximum(syy - sy * sy / n_safe - self.slope * cov, 0.0)


@lru_cache(maxsize=64)
def _break_grid(length: int, min_len: int) -> np.ndarray:
    """Candidate break positions for the exhaustive search, with the series ends as first and last node."""
    grid = np.unique(np.linspace(min_len, length - min_len, _GRID_POINTS).round().astype(np.int64))
    return np.concatenate([[0], grid[(grid >= min_len) & (grid <= length - min_len)], [length]])


def _best_breaks(fits: _LineFits, min_len: np.ndarray, refine: bool = True) -> np.ndarray:
    """Up to two trend breaks per row minimising a BIC-style criterion; (C, 2) array, -1 where unused.

    The costs of all segments between grid nodes come from one broadcast subtraction of prefix sums, so
    the exhaustive search over zero, one and two breaks is a pair of table look-ups; with ``refine`` each
    chosen break is then moved to the best step within one grid spacing.
    """
    channels = min_len.shape[0]
    length = fits.length
    nodes = _break_grid(length, int(min_len.min()))
    breaks = np.full((channels, 2), -1, dtype=np.int64)
    if nodes.size < 3:
        return breaks
    prefix = fits.at(np.broadcast_to(nodes, (channels, nodes.size)))
    table = _Line(prefix[:, :, None, :] - prefix[:, :, :, None]).sse
    table[(nodes[None, None, :] - nodes[None, :, None]) < min_len[:, None, None]] = np.inf
    one = table[:, 0, 1:-1] + table[:, 1:-1, -1]
    two = (table[:, 0, 1:-1, None] + table[:, 1:-1, 1:-1] + table[:, None, 1:-1, -1]).reshape(channels, -1)
    n_obs = prefix[0, :, -1] - prefix[0, :, 0]
    penalty = _BREAK_PENALTY * np.log(np.maximum(n_obs, 2.0))
    best_one, best_two = one.argmin(axis=1), two.argmin(axis=1)
    rows = np.arange(channels)
    with np.errstate(divide="ignore"):
        scores = (
            n_obs
            * np.log(
                np.stack([table[:, 0, -1], one[rows, best_one], two[rows, best_two]]) / np.maximum(n_obs, 1.0)
                + _SSE_FLOOR
            )
            + penalty * np.arange(3)[:, None]
        )
    choice = np.argmin(scores, axis=0)
    grid = nodes[1:-1]
    breaks[choice == 1, 0] = grid[best_one[choice == 1]]
    pair = np.stack(np.unravel_index(best_two, (grid.size, grid.size)), axis=1)
    breaks[choice == 2] = grid[pair[choice == 2]]
    spacing = max(int(np.diff(nodes).max()), 1)
    offsets = np.arange(-spacing, spacing + 1)
    for i in range(2 if refine else 0):
        active = breaks[:, i] >= 0
        if not active.any():
            continue
        left = breaks[:, 0] if i else np.zeros(channels, np.int64)
        right = np.where((i == 0) & (breaks[:, 1] >= 0), breaks[:, 1], length)
        lowest, highest = left + min_len, np.maximum(right - min_len, left + min_len)
        options = np.clip(breaks[:, i, None] + offsets, lowest[:, None], highest[:, None])
        at_options = fits.at(options)
        both_sides = np.stack(
            [at_options - fits.at(left[:, None]), fits.at(right[:, None]) - at_options], axis=1
        )
        cost = _Line(both_sides).sse.sum(axis=0)
        breaks[active, i] = options[rows, cost.argmin(axis=1)][active]
    return breaks


def _fit_trends(
    values: np.ndarray, weights: np.ndarray, min_len: np.ndarray, refine: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-linear (possibly discontinuous) trend of each row with up to three segments.

    Returns the fitted trend (C, L), the breaks (C, 2; -1 unused) and the slope per step of each
    segment (C, 3; NaN unused).
    """
    channels, length = values.shape
    total = np.maximum(weights.sum(axis=1), 1e-12)
    centre = (weights * values).sum(axis=1) / total
    scale = np.sqrt((weights * (values - centre[:, None]) ** 2).sum(axis=1) / total)
    scale = np.where(scale > 0, scale, 1.0)
    fits = _LineFits((values - centre[:, None]) / scale[:, None], weights)
    breaks = _best_breaks(fits, min_len, refine)
    starts = np.concatenate(
        [np.zeros((channels, 1), np.int64), np.where(breaks >= 0, breaks, length)], axis=1
    )
    ends = np.concatenate([starts[:, 1:], np.full((channels, 1), length)], axis=1)
    line = fits.fit(starts, np.maximum(ends, starts))
    segment = (fits.t >= fits.t[np.minimum(starts[:, 1:2], length - 1)]) & (starts[:, 1:2] < length)
    segment = segment.astype(np.int64) + (
        (fits.t >= fits.t[np.minimum(starts[:, 2:3], length - 1)]) & (starts[:, 2:3] < length)
    )
    trend = _take(line.intercept, segment) + _take(line.slope, segment) * fits.t
    per_step = np.where(ends > starts, line.slope * scale[:, None] / length, np.nan)
    return centre[:, None] + scale[:, None] * trend, breaks, per_step


def _lag_one_correlation(residual: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each row over pairs of consecutive masked steps (0 when undefined)."""
    centred = np.where(
        mask,
        residual
        - np.where(mask, residual, 0.0).sum(axis=1, keepdims=True)
        / np.maximum(mask.sum(axis=1, keepdims=True), 1),
        0.0,
    )
    pairs = mask[:, 1:] & mask[:, :-1]
    numerator = np.where(pairs, centred[:, 1:] * centred[:, :-1], 0.0).sum(axis=1)
    denominator = (centred**2).sum(axis=1)
    return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), 0.0)


def analyse_series(series: np.ndarray) -> list[ChannelStructure | None]:
    """Decompose every channel of a (C, L) series; None for channels too short, too sparse or constant.

    Order, vectorised over channels: spike candidates (far from a 7-step running median) -> linear
    detrend -> period -> seasonal component (moving-average detrend, so steps do not leak into it) ->
    spike candidates again without the cycle; they are kept out of every fit -> level shifts (local step
    scan) removed -> piecewise trend -> period retried on its residual where none was found -> cycles
    explaining little variance dropped, trend refitted where the cycle changed -> residual noise, spikes
    (candidates standing out of the residual on both sides), shifts confirmed by a wider joint fit, and
    slope directions only where nothing hidden (an unconfirmed step, a gap) could explain them.
    """
    values = np.asarray(series, dtype=np.float64)
    channels, length = values.shape
    structures: list[ChannelStructure | None] = [None] * channels
    observed = np.isfinite(values)
    count = observed.sum(axis=1)
    mean = np.where(observed, values, 0.0).sum(axis=1) / np.maximum(count, 1)
    signal_std = np.sqrt(
        (np.where(observed, values - mean[:, None], 0.0) ** 2).sum(axis=1) / np.maximum(count, 1)
    )
    active = np.flatnonzero((count >= MIN_STRUCTURE_LENGTH) & (signal_std > 0))
    if length < MIN_STRUCTURE_LENGTH or active.size == 0:
        return structures
    observed, signal_std = observed[active], signal_std[active]
    filled = _fill_rows(values[active])
    present = observed.astype(np.float64)

    candidates, smooth = _spike_candidates(filled, observed, signal_std)
    linear = _linear_trends(filled, present * ~candidates)
    periods = _detect_periods(np.where(candidates, smooth, filled) - linear)
    season = _cycles(filled, present, periods)
    periodic = np.isfinite(periods)
    if periodic.any():  # with the cycle out of the way, only isolated excursions stand out
        candidates[periodic], smooth[periodic] = _spike_candidates(
            (filled - season)[periodic], observed[periodic], signal_std[periodic]
        )
    despiked = np.where(candidates, smooth + season, filled)
    weights = present * ~candidates
    shifts, suspect = _level_shifts(filled - season, weights, signal_std)
    steps = _step_function(shifts, length)
    adjusted = filled - steps
    _refresh(
        season,
        lambda rows: _cycles(adjusted[rows], present[rows], periods[rows]),
        steps.any(axis=1) & periodic,
    )
    base_len = np.full(active.size, max(_MIN_SEGMENT_LENGTH, length // _SEGMENT_FRACTION))
    trend, breaks, slopes = _fit_trends(adjusted - season, weights, _trend_min_len(base_len, periods))
    changed = np.isnan(periods)
    if changed.any():
        periods[changed] = _detect_periods((despiked - steps - trend)[changed])
        changed &= np.isfinite(periods)
        _refresh(season, lambda rows: _cycles(adjusted[rows], present[rows], periods[rows]), changed)
    detrended = adjusted - trend
    weak = _weak_cycles(detrended, season, present > 0) | _inconsistent_cycles(detrended, present, periods)
    weak &= np.isfinite(periods)
    periods[weak], season[weak] = np.nan, 0.0
    refit = changed | weak
    if refit.any():
        rows = np.flatnonzero(refit)
        trend[rows], breaks[rows], slopes[rows] = _fit_trends(
            (adjusted - season)[rows], weights[rows], _trend_min_len(base_len[rows], periods[rows])
        )

    residual = adjusted - season - trend
    centre, noise = _robust_std(residual, weights > 0)
    amplitude = np.where(np.isnan(periods), 0.0, np.ptp(season, axis=1) / 2)
    threshold = np.maximum.reduce(
        [_SPIKE_Z * noise, _SPIKE_OVER_CYCLE * amplitude, _SPIKE_FLOOR_OF_SIGNAL * signal_std]
    )[:, None]
    outlying = candidates & (np.abs(residual - centre[:, None]) > threshold)
    if (outlying.any(axis=1) & np.isfinite(periods)).any():
        # a spike's height leaks into its phase bin: re-estimate the cycles without the spikes
        season = _cycles(adjusted, present * ~outlying, periods)
        residual = adjusted - season - trend
        outlying = candidates & (np.abs(residual - centre[:, None]) > threshold)
    inliers = weights > 0
    rho = np.clip(_lag_one_correlation(residual, inliers), 0.0, _MAX_RESIDUAL_RHO)
    spread = np.sqrt(
        (np.where(inliers, residual - centre[:, None], 0.0) ** 2).sum(axis=1)
        / np.maximum(inliers.sum(axis=1), 1)
    )
    for i, c in enumerate(active):
        period = None if np.isnan(periods[i]) else float(periods[i])
        kept, rejected = _confirmed(shifts[i], adjusted[i] - season[i], inliers[i], noise[i], length)
        segments = _segments(
            breaks[i], slopes[i], length, spread[i], rho[i], signal_std[i], amplitude[i], period
        )
        hidden = suspect[i].copy()
        for shift in shifts[i]:
            hidden[shift.position] = max(hidden[shift.position], _SHIFT_SIZE_SHARE * abs(shift.size))
        segments = tuple(
            _unless_explained(segment, hidden) if not rejected else _flat(segment) for segment in segments
        )
        spikes = _find_spikes(values[c], residual[i] - centre[i], outlying[i], threshold[i, 0])
        near = [segment.start for segment in segments[1:]] + [shift.position for shift in shifts[i]]
        if near:
            spikes = tuple(s for s in spikes if min(abs(s.position - p) for p in near) > _BREAK_MARGIN)
        structures[c] = ChannelStructure(
            segments, period, float(amplitude[i]), float(noise[i]), spikes, tuple(kept), float(signal_std[i])
        )
    return structures


def _spike_candidates(values, observed, signal_std) -> tuple[np.ndarray, np.ndarray]:
    """Steps far (``_SPIKE_Z`` robust spreads) from a 7-step running median, and that running median.

    A running median keeps steps, slopes and slow cycles, so only isolated excursions of up to three steps
    stand out; the fits ignore these steps.
    """
    smooth = _running_median(values, 2 * _MAX_SPIKE_RUN + 1)
    centre, spread = _robust_std(values - smooth, observed)
    spread = np.where(spread > 0, spread, _SPREAD_FLOOR_OF_SIGNAL * signal_std)
    return observed & (np.abs(values - smooth - centre[:, None]) > _SPIKE_Z * spread[:, None]), smooth


def _linear_trends(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares straight line through each row, evaluated at every step."""
    t = np.arange(values.shape[1]) - (values.shape[1] - 1) / 2
    total = np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    t_mean = (weights * t).sum(axis=1, keepdims=True) / total
    y_mean = (weights * values).sum(axis=1, keepdims=True) / total
    centred_t = t - t_mean
    var_t = (weights * centred_t**2).sum(axis=1, keepdims=True)
    slope = (weights * centred_t * (values - y_mean)).sum(axis=1, keepdims=True) / np.maximum(var_t, 1e-12)
    return y_mean + slope * centred_t


def _step_function(shifts: list[list[LevelShift]], length: int) -> np.ndarray:
    """(C, L) sum of each row's level shifts as steps (0 before the first shift)."""
    steps = np.zeros((len(shifts), length))
    for row, found in zip(steps, shifts):
        for shift in found:
            row[shift.position :] += shift.size
    return steps


def analyse_channel(y: np.ndarray) -> ChannelStructure | None:
    """`analyse_series` for a single channel (L,)."""
    return analyse_series(np.asarray(y, dtype=np.float64)[None, :])[0]


def _trend_min_len(base_len: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Shortest trend segment per row: a tenth of the series, and two cycles where there is a cycle."""
    cycles = np.where(np.isnan(periods), 0, np.ceil(_MIN_TREND_CYCLES * np.nan_to_num(periods))).astype(
        np.int64
    )
    return np.maximum(base_len, cycles)


def _refresh(table: np.ndarray, compute, rows: np.ndarray) -> None:
    """Recompute the rows of ``table`` selected by the boolean mask ``rows`` with ``compute(rows)``."""
    if rows.any():
        table[rows] = compute(rows)


def _inconsistent_cycles(detrended: np.ndarray, weights: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Rows whose cycle does not recur: the profiles of the two halves correlate below `_HALVES_CORRELATION`.

    A wandering series (a random walk) can pass the autocorrelation test with one lucky "period"; a real
    cycle has the same shape in both halves of the series.
    """
    half = detrended.shape[1] // 2
    first = weights * (np.arange(detrended.shape[1]) < half)
    one, two = (_seasonal_components(detrended, w, periods) for w in (first, weights - first))
    one, two = one - one.mean(axis=1, keepdims=True), two - two.mean(axis=1, keepdims=True)
    norm = np.sqrt((one**2).sum(axis=1) * (two**2).sum(axis=1))
    return (one * two).sum(axis=1) < _HALVES_CORRELATION * norm


def _weak_cycles(detrended: np.ndarray, season: np.ndarray, inliers: np.ndarray) -> np.ndarray:
    """Rows whose seasonal component explains under a fifth of the detrended variance."""
    count = np.maximum(inliers.sum(axis=1), 1)

    def variance(x: np.ndarray) -> np.ndarray:
        x = np.where(inliers, x, 0.0)
        return (x**2).sum(axis=1) / count - (x.sum(axis=1) / count) ** 2

    share = 1.0 - variance(detrended - season) / np.maximum(variance(detrended), 1e-300)
    return share < _MIN_SEASONAL_SHARE


def _segments(breaks, slopes, length, noise, rho, signal_std, amplitude, period) -> tuple[TrendSegment, ...]:
    """Trend segments with a direction only where the slope is clearly significant.

    The slope's standard error is inflated for lag-1 autocorrelated residuals (what an imperfectly removed
    cycle or curved trend leaves), the change over the segment must exceed the noise, a twentieth of the
    signal spread and half the cycle amplitude, and the segment must span two cycles.
    """
    bounds = [0, *[int(b) for b in breaks if b >= 0], length]
    segments = []
    inflation = np.sqrt((1 + rho) / (1 - rho))
    for k, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        slope = float(slopes[k])
        n = end - start
        slope_se = noise * inflation * np.sqrt(12.0 / (n * (n * n - 1.0))) if n > 2 else np.inf
        change = abs(slope) * (n - 1)
        significant = (
            abs(slope) > _TREND_T * slope_se
            and change
            > max(_TREND_NOISE_Z * noise, _TREND_OF_SIGNAL * signal_std, _TREND_OVER_CYCLE * amplitude)
            and (period is None or n >= _MIN_TREND_CYCLES * period)
        )
        segments.append(TrendSegment(start, end, slope, int(np.sign(slope)) if significant else 0))
    return tuple(segments)


def _step_statistics(values: np.ndarray, weights: np.ndarray, noise: np.ndarray, half: int):
    """Jump, its t statistic and whether it was testable, at every step boundary of each row.

    For the boundary before step p, lines are fitted to the ``half`` steps on either side (spike candidates
    and gaps weighted out) and extrapolated to the boundary; the jump is their difference. Its standard
    error uses the larger of the row's noise and the two fits' own residual spread, so a cycle or curve the
    lines cannot follow raises the bar instead of faking a step. A boundary is testable when both windows
    hold at least half their steps; the jump is NaN where a side has fewer than two. All three (C, L)
    arrays are 0 / False within ``half`` steps of either end.
    """
    channels, length = values.shape
    fits = _LineFits(values, weights)
    p = np.broadcast_to(np.arange(half, length - half + 1), (channels, length - 2 * half + 1))
    boundary = (p - 0.5 - (length - 1) / 2) / length
    left, right = fits.fit(p - half, p), fits.fit(p, p + half)
    variance = 0.0
    for line in (left, right):
        variance = (
            variance
            + 1.0 / np.maximum(line.n, 1e-12)
            + (boundary - line.t_mean) ** 2 / np.maximum(line.var_t, 1e-300)
        )
    sse = left.sse + right.sse
    sigma = np.maximum(noise[:, None], np.sqrt(sse / np.maximum(left.n + right.n - 4, 1.0)))
    sigma = np.maximum(sigma, 1e-12 * np.abs(values).max(axis=1, keepdims=True) + 1e-300)
    testable = (left.n >= _MIN_WINDOW_COVERAGE * half) & (right.n >= _MIN_WINDOW_COVERAGE * half)
    jump = np.where(
        (left.n >= 2) & (right.n >= 2),
        (right.intercept - left.intercept) + (right.slope - left.slope) * boundary,
        np.nan,
    )
    t_stat = np.where(testable, jump / (sigma * np.sqrt(variance)), 0.0)
    inner = slice(half, length - half + 1)
    full_jump, full_t, full_testable = (
        np.zeros((channels, length)),
        np.zeros((channels, length)),
        np.ones((channels, length), bool),
    )
    full_jump[:, inner], full_t[:, inner], full_testable[:, inner] = jump, t_stat, testable
    return full_jump, full_t, full_testable


def _level_shifts(
    values: np.ndarray, weights: np.ndarray, signal_std: np.ndarray
) -> tuple[list[list[LevelShift]], np.ndarray]:
    """Level shifts of each row: step boundaries whose local jump is ``_SHIFT_T`` standard errors from zero.

    The noise is the robust spread of first differences (blind to trends and steps); the strongest boundary
    is taken first and its neighbourhood excluded, up to `_MAX_SHIFTS` per row. A shift must also exceed
    ``_SHIFT_Z`` noise and a tenth of the signal spread. Also returns, per boundary, the size of a
    suspicious but unconfirmed jump (``_SUSPECT_T`` standard errors, or untestable: inf where its size is
    unknown), so that no slope it could explain is claimed; 0 elsewhere.
    """
    channels, length = values.shape
    half = _shift_window(length)
    found: list[list[LevelShift]] = [[] for _ in range(channels)]
    if half < _MIN_SHIFT_WINDOW:
        return found, np.zeros((channels, length))
    pairs = (weights[:, 1:] * weights[:, :-1]) > 0
    _, noise = _robust_std(np.diff(values, axis=1), pairs)
    noise = np.nan_to_num(noise) / np.sqrt(2.0)
    jump, t_stat, testable = _step_statistics(values, weights, noise, half)
    size = np.nan_to_num(np.abs(jump), nan=np.inf)
    strength = np.abs(t_stat)
    suspect = np.where((strength > _SUSPECT_T) | ~testable, size, 0.0)
    floor = np.maximum(_SHIFT_Z * noise, _SHIFT_OF_SIGNAL * signal_std)
    strength[~np.isfinite(size) | (size <= floor[:, None])] = 0.0
    for c in np.flatnonzero((strength > _SHIFT_T).any(axis=1)):
        row = strength[c]
        for _ in range(_MAX_SHIFTS):
            position = int(row.argmax())
            if row[position] <= _SHIFT_T:
                break
            found[c].append(LevelShift(position, float(jump[c, position])))
            row[max(position - 2 * half, 0) : position + 2 * half] = 0.0
        found[c].sort(key=lambda shift: shift.position)
    return found, suspect


def _shift_window(length: int) -> int:
    return min(_SHIFT_WINDOW, length // 8)


def _confirmed(shifts, adjusted, inliers, noise, length) -> tuple[list[LevelShift], bool]:
    """Shifts that a wider joint fit confirms, and whether any was rejected.

    ``adjusted`` is the deseasonalised row with every shift removed. For each shift, it is added back
    and a line plus a step at its position is fitted over four times the scan window on either side: a
    genuine step persists there, while a slow leftover cycle or bend that looked like a step in the narrow
    scan does not. The fitted step must have the shift's sign, at least half its size, and be ``_SHIFT_T``
    standard errors from zero (noise: the larger of the row's noise and the fit's own residual spread).
    """
    reach = _CONFIRM_REACH * _shift_window(length)
    kept = []
    for shift in shifts:
        window = slice(max(shift.position - reach, 0), min(shift.position + reach, length))
        steps = np.arange(window.start, window.stop)
        after = (steps >= shift.position).astype(np.float64)
        mask = inliers[window]
        design = np.stack([np.ones(steps.size), (steps - shift.position) / reach, after], axis=1)[mask]
        target = (adjusted[window] + shift.size * after)[mask]
        if (
            target.size < _MIN_CONFIRM_POINTS
            or after[mask].sum() < _MIN_CONFIRM_SIDE
            or (1 - after[mask]).sum() < _MIN_CONFIRM_SIDE
        ):
            continue
        coef, _, _, _ = np.linalg.lstsq(design, target, rcond=None)
        sigma = max(noise, float(np.sqrt(((target - design @ coef) ** 2).sum() / (target.size - 3))))
        error = sigma * np.sqrt(np.linalg.inv(design.T @ design)[2, 2])
        step = coef[2]
        if (
            step * shift.size > 0
            and abs(step) >= _SHIFT_SIZE_SHARE * abs(shift.size)
            and abs(step) > _SHIFT_T * error
        ):
            kept.append(shift)
    return kept, len(kept) < len(shifts)


def _flat(segment: TrendSegment) -> TrendSegment:
    return TrendSegment(segment.start, segment.end, segment.slope, 0)


def _unless_explained(segment: TrendSegment, hidden: np.ndarray) -> TrendSegment:
    """``segment`` without its direction if a hidden step inside it could account for its change.

    A step of size J inside a segment moves the change over it by at most `_SHIFT_SLOPE_LEVERAGE` x J.
    """
    inside = hidden[segment.start + _EDGE_STEPS : segment.end - _EDGE_STEPS + 1]
    if segment.direction and inside.size and _SHIFT_SLOPE_LEVERAGE * inside.max() >= abs(segment.change):
        return _flat(segment)
    return segment


def _find_spikes(
    y: np.ndarray, residual: np.ndarray, outlying: np.ndarray, threshold: float
) -> tuple[Spike, ...]:
    """Spikes: runs of at most three outlying steps that stand out from both sides; the peak is reported.

    The peak's residual must exceed ``threshold`` above (or below) the median of the three residuals on
    each side of the run, so the edge of a step or a run at either end of the series is never a spike.
    Vectorised over the runs.
    """
    extreme = np.flatnonzero(outlying)
    if extreme.size == 0:
        return ()
    first = np.concatenate([[True], np.diff(extreme) > 1])
    starts, ends = extreme[first], extreme[np.concatenate([first[1:], [True]])]
    keep = (
        (ends - starts < _MAX_SPIKE_RUN)
        & (starts >= _MAX_SPIKE_RUN)
        & (ends + _MAX_SPIKE_RUN < residual.size)
    )
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return ()
    side = np.arange(1, _MAX_SPIKE_RUN + 1)
    inside = np.minimum(starts[:, None] + side - 1, ends[:, None])
    peak = inside[np.arange(starts.size), np.abs(residual[inside]).argmax(axis=1)]
    height = residual[peak]
    sign = np.where(height > 0, 1, -1)
    middle = _MAX_SPIKE_RUN // 2
    left = np.sort(residual[starts[:, None] - side], axis=1)[:, middle]
    right = np.sort(residual[ends[:, None] + side], axis=1)[:, middle]
    isolated = ((height - left) * sign > threshold) & ((height - right) * sign > threshold)
    return tuple(Spike(int(p), float(y[p]), int(d)) for p, d in zip(peak[isolated], sign[isolated]))
