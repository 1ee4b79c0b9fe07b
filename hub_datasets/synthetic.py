"""ChatTS-style synthetic series: trend + seasonality + noise + local events, composed from sampled attributes.

Because the attributes are known, the caption of a synthetic series can state them exactly: the
structural level lists the sampled trend, cycle, noise, spikes, level shift and couplings, the statistical
level is measured on the rendered values, and the semantic level says what the series is made of.
Sampling is seeded; rendering is vectorised over channels and steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .captions import SeriesDescription, TimeAxis, describe_series, format_significant

TREND_SHAPES = ("flat", "linear", "accelerating", "decelerating", "logistic")
WAVEFORMS = ("sine", "triangle")
SAMPLING_INTERVALS = (0.004, 0.01, 0.02, 0.1, 1.0, 60.0, 300.0, 3600.0, 86400.0)
"""Seconds per step a synthetic series is given, 250 Hz (an ECG / EEG rate) to daily, so captions practise
every time unit. Every series gets one: its ``freq`` then states the rate its caption's times are in, instead
of leaving the model to assume one for a caption counted in steps."""

SYNTHETIC_DOMAIN = "synthetic"


@dataclass(frozen=True)
class ChannelAttributes:
    """Everything that shapes one channel. ``trend_change`` is the trend's total rise over the series."""

    level: float
    trend_shape: str
    trend_change: float
    period: float | None
    amplitude: float
    waveform: str
    phase: float
    noise_std: float
    spikes: tuple[tuple[int, float], ...]
    level_shift: tuple[int, float] | None


@dataclass(frozen=True)
class Coupling:
    """``target`` also carries ``weight`` x the trend and cycle of ``source``, delayed by ``lag`` steps."""

    source: int
    target: int
    weight: float
    lag: int


@dataclass(frozen=True)
class SyntheticAttributes:
    """All sampled attributes of one synthetic series; `render_series` turns them into values."""

    length: int
    channels: tuple[ChannelAttributes, ...]
    couplings: tuple[Coupling, ...]
    noise_seed: int
    seconds_per_step: float | None = None
    start: str | None = None

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    def trend_slope(self, channel: int) -> float:
        """Average slope per step of a channel's own trend."""
        return self.channels[channel].trend_change / max(self.length - 1, 1)


def _channel_names(num_channels: int) -> list[str]:
    return [
        f"channel {chr(ord('A') + c)}" if num_channels <= 26 else f"channel {c + 1}"
        for c in range(num_channels)
    ]


def sample_attributes(
    rng: np.random.Generator,
    *,
    num_channels: int,
    length: int,
    seconds_per_step: float | None = None,
    start: str | None = None,
) -> SyntheticAttributes:
    """Draw one series' attributes. Events are sized to stand out of the noise so captions can state them."""
    if num_channels < 1 or length < 16:
        raise ValueError(f"Need num_channels >= 1 and length >= 16, got {num_channels} and {length}.")
    channels = []
    for _ in range(num_channels):
        scale = 10.0 ** rng.uniform(-1, 2)
        shape = TREND_SHAPES[int(rng.integers(len(TREND_SHAPES)))]
        change = 0.0 if shape == "flat" else float(rng.choice([-1.0, 1.0]) * scale * rng.uniform(1.0, 5.0))
        noise_std = float(scale * rng.uniform(0.02, 0.3))
        period = amplitude = None
        max_period = length / 5
        if rng.random() < 0.6 and max_period >= 6:
            period = float(np.exp(rng.uniform(np.log(6), np.log(max_period))))
            amplitude = float(scale * rng.uniform(0.5, 3.0))
        waveform = WAVEFORMS[int(rng.integers(len(WAVEFORMS)))]
        phase = float(rng.uniform(0, 2 * np.pi))
        shift = None
        if rng.random() < 0.3:
            position = int(rng.integers(int(0.2 * length), int(0.8 * length)))
            size = float(
                rng.choice([-1.0, 1.0]) * (noise_std * rng.uniform(8, 15) + scale * rng.uniform(0.5, 1.5))
            )
            shift = (position, size)
        spikes = []
        taken = [shift[0]] if shift else []
        for _ in range(int(rng.choice([0, 0, 1, 2, 3]))):
            position = int(rng.integers(3, length - 3))
            if any(abs(position - other) < 8 for other in taken):
                continue
            taken.append(position)
            height = (
                noise_std * rng.uniform(12, 20) + (amplitude or 0.0) * rng.uniform(1.0, 2.0) + scale * 0.5
            )
            spikes.append((position, float(rng.choice([-1.0, 1.0]) * height)))
        channels.append(
            ChannelAttributes(
                level=float(scale * rng.uniform(-5, 5)),
                trend_shape=shape,
                trend_change=change,
                period=period,
                amplitude=amplitude or 0.0,
                waveform=waveform,
                phase=phase,
                noise_std=noise_std,
                spikes=tuple(sorted(spikes)),
                level_shift=shift,
            )
        )
    couplings = []
    for target in range(1, num_channels):
        if rng.random() < 0.4:
            couplings.append(
                Coupling(
                    source=int(rng.integers(target)),
                    target=target,
                    weight=float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)),
                    lag=int(rng.integers(0, max(1, length // 20))),
                )
            )
    return SyntheticAttributes(
        length=length,
        channels=tuple(channels),
        couplings=tuple(couplings),
        noise_seed=int(rng.integers(2**31)),
        seconds_per_step=seconds_per_step,
        start=start,
    )


def _trend_profiles(shapes: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Unit-rise trend curves (0 at u = 0, 1 at u = 1) for every channel's shape code, at times ``u``.

    Every curve is monotone for any ``u`` (the accelerating one is flat before u = 0), so a delayed copy
    of a trend, evaluated before the series starts, still only rises or only falls.
    """
    low, high = (1.0 / (1.0 + np.exp(-10.0 * (end - 0.5))) for end in (0.0, 1.0))
    logistic = (1.0 / (1.0 + np.exp(-10.0 * (u - 0.5))) - low) / (high - low)
    table = np.stack([np.zeros_like(u), u, np.maximum(u, 0.0) ** 2, 1.0 - (1.0 - u) ** 2, logistic])
    return table[shapes]


def _patterns_at(attrs: SyntheticAttributes, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's own (trend, cycle) at the given (possibly negative) steps; both (C, len(steps))."""
    u = steps / (attrs.length - 1)
    shapes = np.array([TREND_SHAPES.index(ch.trend_shape) for ch in attrs.channels])
    change = np.array([ch.trend_change for ch in attrs.channels])[:, None]
    trend = change * _trend_profiles(shapes, u)
    periods = np.array([ch.period or 1.0 for ch in attrs.channels])[:, None]
    phases = np.array([ch.phase for ch in attrs.channels])[:, None]
    amplitudes = np.array([ch.amplitude if ch.period else 0.0 for ch in attrs.channels])[:, None]
    angle = 2 * np.pi * steps[None, :] / periods + phases
    triangle = 2.0 / np.pi * np.arcsin(np.sin(angle))
    is_triangle = np.array([ch.waveform == "triangle" for ch in attrs.channels])[:, None]
    cycle = amplitudes * np.where(is_triangle, triangle, np.sin(angle))
    return trend, cycle


def pattern_components(attrs: SyntheticAttributes) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's own (trend, cycle) before couplings, noise and events; both (C, L)."""
    return _patterns_at(attrs, np.arange(attrs.length, dtype=np.float64))


def coupled_components(attrs: SyntheticAttributes) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's (trend, cycle) including what couplings carry over from other channels; both (C, L)."""
    trend, cycle = pattern_components(attrs)
    steps = np.arange(attrs.length, dtype=np.float64)
    for coupling in attrs.couplings:
        source = slice(coupling.source, coupling.source + 1)
        delayed_trend, delayed_cycle = _patterns_at(attrs, steps - coupling.lag)
        trend[coupling.target] += coupling.weight * delayed_trend[source][0]
        cycle[coupling.target] += coupling.weight * delayed_cycle[source][0]
    return trend, cycle


def render_series(attrs: SyntheticAttributes) -> np.ndarray:
    """Values (C, L) float32 of the attributes; deterministic (noise drawn from ``noise_seed``).

    A coupled channel carries its source's trend and cycle as they were ``lag`` steps earlier (evaluated
    before the series start too, so the delayed copy has no frozen stretch).
    """
    trend, cycle = coupled_components(attrs)
    values = trend + cycle + np.array([ch.level for ch in attrs.channels])[:, None]
    noise_std = np.array([ch.noise_std for ch in attrs.channels])[:, None]
    values += noise_std * np.random.default_rng(attrs.noise_seed).standard_normal(values.shape)
    for c, ch in enumerate(attrs.channels):
        if ch.level_shift is not None:
            values[c, ch.level_shift[0] :] += ch.level_shift[1]
        for position, height in ch.spikes:
            values[c, position] += height
    return values.astype(np.float32)


def synthetic_description(attrs: SyntheticAttributes) -> SeriesDescription:
    """The `SeriesDescription` of a synthetic series: letter-named unitless channels, the sampled time axis."""
    return SeriesDescription(
        channel_names=_channel_names(attrs.num_channels),
        units=[""] * attrs.num_channels,
        seconds_per_step=attrs.seconds_per_step,
        domain=SYNTHETIC_DOMAIN,
        description="",
        start=attrs.start,
    )


_TREND_WORDS = {
    "linear": "linear",
    "accelerating": "accelerating (quadratic)",
    "decelerating": "decelerating (quadratic)",
    "logistic": "S-shaped (logistic)",
}


def _channel_sentence(c: int, name: str, attrs: SyntheticAttributes, axis: TimeAxis, rng) -> str:
    ch = attrs.channels[c]
    parts = []
    if ch.trend_shape == "flat":
        parts.append(f"{name} has no trend")
    else:
        direction = "rising" if ch.trend_change > 0 else "falling"
        rate = format_significant(abs(axis.rate(attrs.trend_slope(c))))
        total = format_significant(abs(ch.trend_change))
        parts.append(
            f"{name} has a {direction} {_TREND_WORDS[ch.trend_shape]} trend with a total change of {total} "
            f"(on average {rate} per {axis.per_unit})"
        )
    if ch.period is None:
        parts.append(rng.choice(["no seasonality", "no periodic cycle"]))
    else:
        parts.append(
            f"a {ch.waveform} cycle with period {axis.duration(ch.period)} and amplitude "
            f"{format_significant(ch.amplitude)}"
        )
    parts.append(f"Gaussian noise with std {format_significant(ch.noise_std)}")
    text = ", ".join(parts[:-1]) + " and " + parts[-1] + "."
    if ch.level_shift is not None:
        position, size = ch.level_shift
        text += f" Its level shifts {'up' if size > 0 else 'down'} by {format_significant(abs(size))} {axis.at(position)}."
    if ch.spikes:
        items = ", ".join(
            f"{'up' if height > 0 else 'down'} by {format_significant(abs(height))} {axis.at(position)}"
            for position, height in ch.spikes
        )
        noun = "spike" if len(ch.spikes) == 1 else "spikes"
        text += f" It has {len(ch.spikes)} {noun}: {items}."
    return text


def _coupling_sentence(coupling: Coupling, names: list[str], axis: TimeAxis) -> str:
    lag = f", delayed by {axis.duration(coupling.lag)}" if coupling.lag else ""
    return (
        f"{names[coupling.target]} also follows the trend and cycle of {names[coupling.source]} scaled by "
        f"{format_significant(coupling.weight)}{lag}."
    )


def _components(attrs: SyntheticAttributes) -> list[str]:
    items = []
    shapes = sorted({ch.trend_shape for ch in attrs.channels if ch.trend_shape != "flat"})
    if shapes:
        items.append(" and ".join(_TREND_WORDS[s].split(" (")[0] for s in shapes) + " trends")
    if any(ch.period for ch in attrs.channels):
        items.append("seasonal cycles")
    items.append("Gaussian noise")
    spikes = sum(len(ch.spikes) for ch in attrs.channels)
    if spikes:
        items.append(f"{spikes} {'spike' if spikes == 1 else 'spikes'}")
    shifts = sum(ch.level_shift is not None for ch in attrs.channels)
    if shifts:
        items.append(f"{shifts} level {'shift' if shifts == 1 else 'shifts'}")
    if attrs.couplings:
        items.append(
            f"{len(attrs.couplings)} cross-channel {'coupling' if len(attrs.couplings) == 1 else 'couplings'}"
        )
    return items


def caption_attributes(attrs: SyntheticAttributes, *, seed: int) -> dict[str, str]:
    """The three caption levels of a synthetic series, stating exactly its sampled attributes.

    The statistical level is measured on the rendered values (with `describe_series`), the structural level
    lists each channel's attributes, and the semantic level names the components the series is made of.
    """
    description = synthetic_description(attrs)
    names = list(description.channel_names)
    axis = TimeAxis(attrs.length, attrs.seconds_per_step, attrs.start)
    rng = np.random.default_rng(seed)
    statistical = describe_series(render_series(attrs), description, seed=seed, levels=("statistical",))
    structural = [_channel_sentence(c, names[c], attrs, axis, rng) for c in range(attrs.num_channels)]
    structural += [_coupling_sentence(coupling, names, axis) for coupling in attrs.couplings]
    kind = "univariate" if attrs.num_channels == 1 else f"{attrs.num_channels}-channel"
    items = _components(attrs)
    composed = ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]
    opening = rng.choice(["A synthetic", "An artificial", "A simulated"])
    semantic = f"{opening} {kind} series of {attrs.length} steps composed of {composed}."
    return {
        "statistical": statistical["statistical"],
        "structural": " ".join(structural),
        "semantic": semantic,
    }


def _random_start(rng: np.random.Generator, seconds_per_step: float | None) -> str | None:
    if seconds_per_step is None or seconds_per_step < 60 or rng.random() < 0.5:
        return None
    day = np.datetime64("2010-01-01") + np.timedelta64(int(rng.integers(0, 5000)), "D")
    return f"{day}T{int(rng.integers(24)):02d}:00:00"


def generate_synthetic(
    n: int,
    *,
    seed: int,
    min_length: int = 64,
    max_length: int = 1024,
    max_channels: int = 6,
    univariate_ratio: float = 0.5,
) -> Iterator[tuple[np.ndarray, SyntheticAttributes, dict[str, str], SeriesDescription]]:
    """Yield ``n`` (series (C, L) float32, attributes, captions, description) tuples, reproducible by ``seed``.

    Lengths are log-uniform in [min_length, max_length]; a ``univariate_ratio`` share of series has one
    channel, the rest 2..``max_channels``.
    """
    if not 16 <= min_length <= max_length:
        raise ValueError(f"Need 16 <= min_length <= max_length, got {min_length} and {max_length}.")
    if max_channels < 1 or not 0.0 <= univariate_ratio <= 1.0:
        raise ValueError(
            f"Need max_channels >= 1 and 0 <= univariate_ratio <= 1, got {max_channels}, {univariate_ratio}."
        )
    rng = np.random.default_rng(seed)
    for _ in range(n):
        length = int(round(np.exp(rng.uniform(np.log(min_length), np.log(max_length)))))
        multivariate = max_channels > 1 and rng.random() >= univariate_ratio
        num_channels = int(rng.integers(2, max_channels + 1)) if multivariate else 1
        seconds_per_step = SAMPLING_INTERVALS[int(rng.integers(len(SAMPLING_INTERVALS)))]
        start = _random_start(rng, seconds_per_step)
        attrs = sample_attributes(
            rng, num_channels=num_channels, length=length, seconds_per_step=seconds_per_step, start=start
        )
        captions = caption_attributes(attrs, seed=int(rng.integers(2**31)))
        yield render_series(attrs), attrs, captions, synthetic_description(attrs)
