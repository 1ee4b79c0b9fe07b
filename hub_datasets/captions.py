"""Hierarchical captions (statistical, structural, semantic) for any (C, L) series, SensorLM style.

Every sentence is built from a measured quantity or a detector result of `series_analysis`, so each
statement is true of the series it describes; where a detector is not confident the caption says so
("no clear periodicity") instead of guessing. Numbers are plain decimals rounded to the channel's scale,
times are given in the data's own time units (or step indices when the sampling rate is unknown), and
clause templates vary with a seeded RNG so the corpus does not repeat one sentence verbatim.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from processing_slip.time_text import (
    ELAPSED_UNITS,
    decimals_for,
    duration_text,
    format_number,
    format_significant,
    rate_hz_text,
)

from . import caption_phrases as phrases
from .series_analysis import (
    ChannelStats,
    ChannelStructure,
    analyse_series,
    channel_stats,
    correlation_matrix,
)

CAPTION_LEVELS = ("statistical", "structural", "semantic")
"""The caption levels, in the order `describe_series` computes them; `schema` names its caption columns after them."""

COMPOSE_ORDER = ("semantic", "structural", "statistical")
"""The order `compose_caption` joins levels in: what the data is, then its shape, then its numbers."""

MAX_DETAILED_CHANNELS = 6
"""Beyond this many channels the statistical and structural levels summarise instead of listing channels."""

STRONG_CORRELATION = 0.7
"""|r| from which a channel pair is called strongly correlated (the usual reading of Pearson's r)."""
WEAK_CORRELATION = 0.3
"""|r| below which no pair is named: every pair is then stated to be not strongly correlated."""
NOISE_LEVEL_BOUNDS = (0.1, 0.4)
"""Residual noise std over signal std where the caption's noise level moves from low to moderate to high."""
MAX_LISTED_CHANNELS = 8
"""The semantic level names every channel of a series with up to this many channels..."""
LISTED_OF_MANY = 6
"""... and the first this many of a series with more."""


@dataclass(frozen=True)
class SeriesDescription:
    """What is known about a series besides its values; feeds the semantic level and the time axis."""

    channel_names: Sequence[str]
    units: Sequence[str]
    seconds_per_step: float | None
    domain: str = ""
    device: str = ""
    description: str = ""
    label: str | None = None
    start: str | None = None


class TimeAxis:
    """Turns step indices into the data's time: timestamps, elapsed time in a fitting unit, or step numbers."""

    def __init__(self, length: int, seconds_per_step: float | None, start: str | None = None):
        if seconds_per_step is not None and not (math.isfinite(seconds_per_step) and seconds_per_step > 0):
            raise ValueError(f"seconds_per_step must be a positive number or None, got {seconds_per_step!r}.")
        self.seconds_per_step = seconds_per_step
        self.start = None
        if start is not None:
            if seconds_per_step is None:
                raise ValueError("A start timestamp needs seconds_per_step; pass both or neither.")
            try:
                self.start = datetime.fromisoformat(start)
            except ValueError as error:
                raise ValueError(
                    f"start must be an ISO timestamp like '2024-01-05T14:05:00', got {start!r}."
                ) from error
        if seconds_per_step is None:
            self.unit, self.per_unit, self.unit_seconds = "steps", "step", 1.0
            self.decimals = 0
        else:
            duration = max(length - 1, 1) * seconds_per_step
            self.unit, self.per_unit, self.unit_seconds, _ = next(u for u in ELAPSED_UNITS if duration < u[3])
            step_in_unit = seconds_per_step / self.unit_seconds
            self.decimals = int(min(max(math.ceil(-math.log10(step_in_unit) - 1e-9), 0), 6))
        self.date_format = self._date_format()

    def _date_format(self) -> str | None:
        if self.start is None or self.seconds_per_step < 1:
            return None
        for min_seconds, fmt in (
            (360 * 86400, "%Y"),
            (28 * 86400, "%Y-%m"),
            (86400, "%Y-%m-%d"),
            (60, "%Y-%m-%d %H:%M"),
        ):
            if self.seconds_per_step >= min_seconds:
                return fmt
        return "%Y-%m-%d %H:%M:%S"

    def point(self, step: int) -> str:
        """The time of ``step``: '2024-01-05 14:05', '2.46 s' or 'step 123'."""
        if self.seconds_per_step is None:
            return f"step {step}"
        if self.date_format is not None:
            try:
                return (self.start + timedelta(seconds=step * self.seconds_per_step)).strftime(
                    self.date_format
                )
            except OverflowError:
                pass
        value = step * self.seconds_per_step / self.unit_seconds
        return f"{format_number(value, self.decimals)} {self.unit}"

    def at(self, step: int) -> str:
        """``point`` with its preposition: 'at 2.46 s', 'on 2024-01-05', 'in 1778'."""
        text = self.point(step)
        if self.date_format == "%Y":
            return f"in {text}"
        if self.date_format in ("%Y-%m", "%Y-%m-%d"):
            return f"on {text}" if self.date_format == "%Y-%m-%d" else f"in {text}"
        return f"at {text}"

    def span(self, start: int, end: int) -> str:
        return f"from {self.point(start)} to {self.point(end)}"

    def duration(self, steps: float) -> str:
        """A time span of ``steps`` steps in the unit that suits its own length, to 3 significant figures."""
        if self.seconds_per_step is None:
            return f"{format_significant(steps, trim=True)} steps"
        return duration_text(steps * self.seconds_per_step)

    def rate(self, slope_per_step: float) -> float:
        """A per-step slope expressed per unit of this axis (``per_unit``)."""
        if self.seconds_per_step is None:
            return slope_per_step
        return slope_per_step * self.unit_seconds / self.seconds_per_step


class _Writer:
    """Picks one template per clause with the caption's RNG (`random.Random`: a pick costs well under a
    microsecond, against ~15 for a numpy Generator call, and a caption makes dozens)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def say(self, options: Sequence[str], **fields) -> str:
        return self.pick(options).format(**fields)


def _unit(units: Sequence[str], c: int) -> str:
    return f" {units[c]}" if units[c] else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def value_decimals(stat: ChannelStats) -> int:
    """Decimals of a channel's values: three significant figures of its range (else of its level)."""
    spread = stat.max - stat.min
    return decimals_for(spread if spread > 0 else abs(stat.max) or 1.0)


def std_decimals(stat: ChannelStats) -> int:
    """Decimals of a channel's std: those of its values, or more so that the std keeps two figures."""
    return max(value_decimals(stat), decimals_for(stat.std, 2))


def summary_decimals(stats: Sequence[ChannelStats]) -> int:
    """Decimals of the many-channel summary: three significant figures of the range over observed channels."""
    observed = [stat for stat in stats if stat.observed]
    spread = max(stat.max for stat in observed) - min(stat.min for stat in observed)
    return decimals_for(spread if spread > 0 else abs(observed[0].mean) or 1.0)


def percent_text(fraction: float) -> str:
    """A share as the captions print it: a percentage to two significant figures, whole numbers at least."""
    percent = 100.0 * fraction
    return format_number(percent, max(decimals_for(percent, 2), 0))


def noise_level(structure: ChannelStructure) -> str:
    """The caption's word for a channel's residual noise ("low", "moderate", "high")."""
    ratio = structure.noise_std / structure.signal_std
    return phrases.NOISE_LEVELS[int(np.searchsorted(NOISE_LEVEL_BOUNDS, ratio))]


def overall_direction(structure: ChannelStructure) -> int:
    """+1 / -1 when every directed trend segment rises / falls, else 0 (no clear or a mixed trend)."""
    signs = {segment.direction for segment in structure.segments if segment.direction != 0}
    return signs.pop() if len(signs) == 1 else 0


def correlated_pairs(values: np.ndarray, stats: Sequence[ChannelStats]) -> list[tuple[int, int, float]]:
    """(channel a, channel b, Pearson r) of every pair of varying channels, strongest |r| first."""
    usable = [c for c, stat in enumerate(stats) if stat.observed and not stat.constant]
    if len(usable) < 2:
        return []
    corr = correlation_matrix(values[usable])
    rows, cols = np.triu_indices(len(usable), k=1)
    pair_r = corr[rows, cols]
    finite = np.isfinite(pair_r)
    rows, cols, pair_r = rows[finite], cols[finite], pair_r[finite]
    order = np.argsort(-np.abs(pair_r), kind="stable")
    return [(usable[rows[i]], usable[cols[i]], float(pair_r[i])) for i in order]


def listed_channels(channel_names: Sequence[str], units: Sequence[str]) -> str:
    """The channels as the semantic level lists them: "acc_x (in g), acc_y (in g) and acc_z (in g)"."""
    items = [f"{name} (in {unit})" if unit else str(name) for name, unit in zip(channel_names, units)]
    if len(items) == 1:
        return items[0]
    if len(items) <= MAX_LISTED_CHANNELS:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return ", ".join(items[:LISTED_OF_MANY])


def describe_series(
    series: np.ndarray,
    info: SeriesDescription,
    *,
    seed: int,
    levels: Sequence[str] = CAPTION_LEVELS,
    max_detailed_channels: int = MAX_DETAILED_CHANNELS,
) -> dict[str, str]:
    """Caption text per requested level for a (C, L) series (NaN marks missing steps).

    ``seed`` only chooses phrasings: the same seed gives identical text, and the facts stated do not
    depend on it. ``max_detailed_channels`` bounds how many channels are described one by one.
    """
    values = np.asarray(series, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(
            f"series must have shape (channels, length) with length >= 1, got {np.shape(series)}."
        )
    channels, length = values.shape
    if len(info.channel_names) != channels or len(info.units) != channels:
        raise ValueError(
            f"The series has {channels} channels but info gives {len(info.channel_names)} channel_names and "
            f"{len(info.units)} units; pass one name and one unit ('' if unitless) per channel."
        )
    unknown = [level for level in levels if level not in CAPTION_LEVELS]
    if unknown or not levels:
        raise ValueError(f"levels must be a non-empty subset of {CAPTION_LEVELS}, got {tuple(levels)}.")
    if np.isinf(values).any():
        raise ValueError("series contains infinite values; use NaN for missing steps.")
    axis = TimeAxis(length, info.seconds_per_step, info.start)
    writer = _Writer(seed)
    stats = channel_stats(values)
    parts: dict[str, str] = {}
    for level in CAPTION_LEVELS:
        if level not in levels:
            continue
        if level == "statistical":
            parts[level] = _statistical(stats, info, axis, writer, length, max_detailed_channels)
        elif level == "structural":
            parts[level] = _structural(values, stats, info, axis, writer, max_detailed_channels)
        else:
            parts[level] = _semantic(info, axis, writer, channels, length)
    return {level: parts[level] for level in levels}


def semantic_caption(info: SeriesDescription, length: int, *, seed: int) -> str:
    """The semantic level alone, which needs no values: zero-shot prompts built with it read like the corpus
    captions the text tower learned from (``seed`` picks the phrasing, as in ``describe_series``)."""
    axis = TimeAxis(length, info.seconds_per_step, info.start)
    return _semantic(info, axis, _Writer(seed), len(info.channel_names), length)


def _duration_clause(axis: TimeAxis, length: int) -> str:
    return "" if axis.seconds_per_step is None else f" ({axis.duration(length)})"


def _statistical(stats, info, axis, writer, length, max_detailed) -> str:
    channels = len(stats)
    channel_text = _count(channels, "channel")
    sentences = [
        writer.say(
            phrases.SERIES_HEADER,
            channels=channel_text,
            channels_cap=_capitalise(channel_text),
            length=length,
            duration=_duration_clause(axis, length),
        )
    ]
    if channels <= max_detailed:
        for c, stat in enumerate(stats):
            sentences.extend(_channel_statistics(c, stat, info, axis, writer))
        return " ".join(sentences)
    observed = [c for c, stat in enumerate(stats) if stat.observed]
    if not observed:
        return " ".join([*sentences, "No channel has observed values."])
    means = [stats[c].mean for c in observed]
    decimals = summary_decimals(stats)
    high = max(observed, key=lambda c: stats[c].max)
    low = min(observed, key=lambda c: stats[c].min)
    sentences.append(
        writer.say(
            phrases.MANY_CHANNEL_STATS,
            low_mean=format_number(min(means), decimals),
            high_mean=format_number(max(means), decimals),
            max=format_number(stats[high].max, decimals),
            max_unit=_unit(info.units, high),
            max_name=info.channel_names[high],
            t_max=axis.at(stats[high].argmax),
            min=format_number(stats[low].min, decimals),
            min_unit=_unit(info.units, low),
            min_name=info.channel_names[low],
            t_min=axis.at(stats[low].argmin),
        )
    )
    missing = [stat.missing_fraction for stat in stats if stat.missing_fraction > 0]
    if missing:
        sentences.append(
            writer.say(phrases.MANY_CHANNEL_MISSING, count=len(missing), percent=percent_text(max(missing)))
        )
    return " ".join(sentences)


def _channel_statistics(c: int, stat: ChannelStats, info, axis: TimeAxis, writer: _Writer) -> list[str]:
    name, unit = info.channel_names[c], _unit(info.units, c)
    if not stat.observed:
        return [writer.say(phrases.CHANNEL_EMPTY, name=name)]
    decimals = value_decimals(stat)
    if stat.constant:
        sentences = [
            writer.say(
                phrases.CHANNEL_CONSTANT, name=name, value=format_number(stat.max, decimals), unit=unit
            )
        ]
    else:
        sentences = [
            writer.say(
                phrases.CHANNEL_STATS,
                name=name,
                unit=unit,
                mean=format_number(stat.mean, decimals),
                std=format_number(stat.std, std_decimals(stat)),
                min=format_number(stat.min, decimals),
                max=format_number(stat.max, decimals),
                t_min=axis.at(stat.argmin),
                t_max=axis.at(stat.argmax),
            )
        ]
    if stat.missing_fraction > 0:
        sentences.append(writer.say(phrases.MISSING, name=name, percent=percent_text(stat.missing_fraction)))
    return sentences


def _structural(values, stats, info, axis, writer, max_detailed) -> str:
    channels, length = values.shape
    structures = analyse_series(values)
    sentences: list[str] = []
    if channels <= max_detailed:
        for c in range(channels):
            sentences.extend(_channel_structure(c, values[c], stats[c], structures[c], info, axis, writer))
    else:
        sentences.extend(_many_channel_structure(stats, structures, info, axis, writer))
    if channels > 1:
        sentences.append(_correlation_sentence(values, stats, info, writer))
    return " ".join(sentence for sentence in sentences if sentence)


def _channel_structure(c, y, stat, structure: ChannelStructure | None, info, axis, writer) -> list[str]:
    name, unit = info.channel_names[c], _unit(info.units, c)
    if not stat.observed:
        return [writer.say(phrases.CHANNEL_EMPTY, name=name)]
    if stat.constant:
        return [writer.say(phrases.CONSTANT, name=name)]
    if structure is None:
        observed = np.flatnonzero(np.isfinite(y))
        decimals = value_decimals(stat)
        ends = ""
        if observed.size >= 2:
            ends = writer.say(
                phrases.TOO_SHORT_ENDS,
                first=format_number(y[observed[0]], decimals) + unit,
                last=format_number(y[observed[-1]], decimals) + unit,
            )
        return [writer.say(phrases.TOO_SHORT, name=name, length=observed.size, ends=ends)]
    sentences = [
        _trend_clause(name, unit, structure, axis, writer)
        + _period_clause(structure, unit, axis, writer)
        + "."
    ]
    sentences.append(
        writer.say(
            phrases.NOISE,
            level=noise_level(structure),
            std=format_significant(structure.noise_std, 2),
            unit=unit,
        )
    )
    sentences.append(_spike_sentence(structure, stat, unit, axis, writer))
    for shift in structure.level_shifts:
        sentences.append(
            writer.say(
                phrases.LEVEL_SHIFT,
                direction="up" if shift.size > 0 else "down",
                size=format_significant(abs(shift.size), 2),
                unit=unit,
                at=axis.point(shift.position),
            )
        )
    return sentences


def _direction_words(direction: int, writer: _Writer) -> tuple[str, str]:
    verb = writer.pick(phrases.RISE_VERBS if direction > 0 else phrases.FALL_VERBS)
    return verb, "rising" if direction > 0 else "falling"


def _trend_clause(name: str, unit: str, structure: ChannelStructure, axis: TimeAxis, writer: _Writer) -> str:
    segments = structure.segments
    if all(segment.direction == 0 for segment in segments):
        return writer.say(phrases.NO_TREND, name=name)
    if len(segments) == 1:
        verb, adjective = _direction_words(segments[0].direction, writer)
        rate = format_significant(abs(axis.rate(segments[0].slope))) + unit
        return writer.say(
            phrases.ONE_TREND, name=name, verb=verb, adjective=adjective, rate=rate, unit=axis.per_unit
        )
    pieces = []
    for segment in segments:
        span = axis.span(segment.start, segment.end - 1)
        if segment.direction == 0:
            pieces.append(writer.say(phrases.SEGMENT_FLAT, span=span))
        else:
            verb, _ = _direction_words(segment.direction, writer)
            rate = format_significant(abs(axis.rate(segment.slope))) + unit
            pieces.append(
                writer.say(phrases.SEGMENT_SLOPED, verb=verb, rate=rate, unit=axis.per_unit, span=span)
            )
    intro = writer.say(phrases.SEGMENTS_INTRO, name=name, count=len(segments), breaks=len(segments) - 1)
    return intro + ", then ".join(pieces)


def _period_clause(structure: ChannelStructure, unit: str, axis: TimeAxis, writer: _Writer) -> str:
    if structure.period is None:
        return writer.pick(phrases.NO_PERIOD)
    return writer.say(
        phrases.PERIOD,
        period=axis.duration(structure.period),
        amplitude=format_significant(structure.seasonal_amplitude, 2),
        unit=unit,
    )


def _spike_sentence(
    structure: ChannelStructure, stat: ChannelStats, unit: str, axis: TimeAxis, writer
) -> str:
    spikes = structure.spikes
    if not spikes:
        return writer.pick(phrases.NO_SPIKES)
    decimals = value_decimals(stat)
    listed = sorted(spikes, key=lambda s: abs(s.value - stat.mean), reverse=True)[:3]
    items = [
        writer.say(
            phrases.SPIKE_ITEM,
            direction="up" if spike.direction > 0 else "down",
            value=format_number(spike.value, decimals),
            unit=unit,
            at=axis.at(spike.position),
        )
        for spike in sorted(listed, key=lambda s: s.position)
    ]
    if len(spikes) > len(listed):
        items.append(writer.say(phrases.SPIKE_MORE, count=len(spikes) - len(listed)))
    verb = "stands" if len(spikes) == 1 else "stand"
    return _capitalise(
        writer.say(phrases.SPIKES, count_text=_count(len(spikes), "spike"), verb=verb, items=", ".join(items))
    )


def _correlation_sentence(values, stats, info, writer: _Writer) -> str:
    pairs = correlated_pairs(values, stats)
    if not pairs:
        return ""
    names = info.channel_names
    strong = [pair for pair in pairs if abs(pair[2]) >= STRONG_CORRELATION][:3]
    if strong:
        clauses = []
        for a, b, r in strong:
            positive = r > 0
            clauses.append(
                writer.say(
                    phrases.CORRELATED,
                    a=names[a],
                    b=names[b],
                    strength="strongly",
                    sign="positively" if positive else "negatively",
                    together="together" if positive else "in opposite directions",
                    r=format_number(r, 2),
                )
            )
        return "; ".join(clauses) + "."
    a, b, r = pairs[0]
    if abs(r) < WEAK_CORRELATION:
        return writer.say(phrases.WEAK_CORRELATION, bound=format_number(WEAK_CORRELATION, 1))
    return writer.say(phrases.STRONGEST_CORRELATION, a=names[a], b=names[b], r=format_number(r, 2))


def _many_channel_structure(stats, structures, info, axis: TimeAxis, writer: _Writer) -> list[str]:
    analysed = [(c, s) for c, s in enumerate(structures) if s is not None]
    directions = [overall_direction(structure) for _, structure in analysed]
    rising, falling = directions.count(1), directions.count(-1)
    sentences = [
        writer.say(
            phrases.MANY_TRENDS,
            count=len(stats),
            rising=rising,
            falling=falling,
            flat=len(stats) - rising - falling,
        )
    ]
    periodic = [(c, s) for c, s in analysed if s.period is not None]
    if periodic:
        items = ", ".join(f"{info.channel_names[c]} every {axis.duration(s.period)}" for c, s in periodic[:4])
        if len(periodic) > 4:
            items += f" and {len(periodic) - 4} more"
        sentences.append(writer.say(phrases.MANY_PERIODS, count=len(periodic), items=items))
    else:
        sentences.append(writer.pick(phrases.MANY_NO_PERIOD))
    spiky = [(c, s) for c, s in analysed if s.spikes]
    if spiky:
        items = ", ".join(f"{info.channel_names[c]}: {len(s.spikes)}" for c, s in spiky[:4])
        if len(spiky) > 4:
            items += f" and {len(spiky) - 4} more channels"
        sentences.append(writer.say(phrases.MANY_SPIKES, count=len(spiky), items=items))
    elif len(analysed) == len(stats):
        sentences.append(writer.pick(phrases.MANY_NO_SPIKES))
    return sentences


def _semantic(info: SeriesDescription, axis: TimeAxis, writer: _Writer, channels: int, length: int) -> str:
    domain, device = info.domain.strip(), info.device.strip()
    channel_text = _count(channels, "channel")
    if domain and device:
        opening = writer.say(
            phrases.DOMAIN_DEVICE, domain=domain, domain_cap=_capitalise(domain), device=device
        )
    elif domain:
        opening = writer.say(phrases.DOMAIN_ONLY, domain=domain, domain_cap=_capitalise(domain))
    elif device:
        opening = writer.say(phrases.DEVICE_ONLY, device=device)
    else:
        opening = writer.say(phrases.GENERIC, channels=channel_text)
    sentences = [opening]
    listed = listed_channels(info.channel_names, info.units)
    if channels == 1:
        sentences.append(writer.say(phrases.CHANNEL_SINGLE, item=listed))
    elif channels <= MAX_LISTED_CHANNELS:
        sentences.append(writer.say(phrases.CHANNEL_LIST, channels=channel_text, items=listed))
    else:
        sentences.append(writer.say(phrases.CHANNEL_LIST_MANY, channels=channel_text, items=listed))
    if axis.seconds_per_step is not None:
        if axis.seconds_per_step < 1:
            sentences.append(writer.say(phrases.RATE_HZ, rate=rate_hz_text(axis.seconds_per_step)))
        else:
            sentences.append(writer.say(phrases.RATE_INTERVAL, interval=axis.duration(1)))
    if axis.date_format is not None:
        sentences.append(writer.say(phrases.START, start=axis.point(0)))
    description = info.description.strip()
    if description:
        sentences.append(description if description.endswith(".") else description + ".")
    if info.label is not None and str(info.label).strip():
        sentences.append(writer.say(phrases.LABEL, label=str(info.label).strip()))
    return " ".join(sentences)


_LOWERCASE_OPENERS = frozenset({"The", "It", "Its", "A", "Across", "Channel", "Of", "Trends", "With", "What"})
"""Template openers that may be lowercased after a lead-in; channel names keep their case."""

_LEAD_INS = {
    "structural": ("", "In shape, ", "Structurally, "),
    "statistical": ("", "In numbers, ", "Numerically, "),
}


def compose_caption(parts: Mapping[str, str], level_mix: Sequence[str], *, seed: int) -> str:
    """Join the levels named in ``level_mix`` in the fixed order semantic -> structural -> statistical.

    ``seed`` picks an optional lead-in per level so joined captions do not all read alike.
    """
    if not level_mix:
        raise ValueError(f"level_mix must name at least one of {CAPTION_LEVELS}.")
    unknown = [level for level in level_mix if level not in CAPTION_LEVELS]
    if unknown:
        raise ValueError(f"Unknown caption levels {unknown}; choose from {CAPTION_LEVELS}.")
    missing = [level for level in level_mix if level not in parts]
    if missing:
        raise ValueError(
            f"parts lacks the levels {missing} named in level_mix; generate them with describe_series."
        )
    writer = _Writer(seed)
    texts = []
    for level in COMPOSE_ORDER:
        if level not in level_mix or not parts[level]:
            continue
        text = parts[level]
        lead = writer.pick(_LEAD_INS[level]) if level in _LEAD_INS and texts else ""
        if lead and text.split(" ", 1)[0] in _LOWERCASE_OPENERS:
            text = text[:1].lower() + text[1:]
        texts.append(lead + text)
    return " ".join(texts)
