"""Caption faithfulness: how many of the claims a caption makes are true of the series it describes.

BLEU, METEOR, ROUGE and SBERT compare a caption with a reference text, so a decoder that writes the corpus's
most common caption for every input still scores well. Here each claim is read back out of the caption with
the corpus captioner's own phrase banks (`hub_datasets.caption_phrases`) and checked against the series with
the detectors and the rounding that wrote the corpus captions (`hub_datasets.series_analysis`,
`hub_datasets.captions`). A corpus caption is therefore entirely true of its own series, and a generated
caption is held to the same standard.

How each kind of claim is checked:

- Numbers (mean, std, extremes, values, rates, periods, amplitudes, correlations, shares): true when the
  stated number equals the one the captioner prints for the true value, i.e. within its own rounding
  (`format_number`, `format_significant`, `value_decimals`): a half unit in the last place it prints. Trailing
  zeros do not matter; extra digits are rounded to the printed precision first.
- Times (where an extreme, spike, shift or trend phase lies; durations; the sampling interval): converted to
  the captioner's time unit for the series' ``freq`` (`TimeAxis`) and compared the same way; step numbers
  exactly.
- Detector statements (trend direction and phases, cycle, noise level, spikes, level shifts, correlations):
  true when the detectors find exactly that; "no clear ..." is true when they find nothing, as in the corpus
  captions.
- What the series is (domain, device, label, channel names and units, start): against `SeriesMetadata`. For a
  corpus row, `SeriesMetadata.from_row` takes the row's columns and reads the device and the label from the
  row's reference semantic caption, which the captioner wrote from the source's own description of the
  recording.
- Shape: the channel count and the length against the array.

A claim that cannot be settled (a time in seconds without a sampling rate, a calendar date without a start
time, a device or label the metadata does not know) is made but not checked. A sentence about a channel the
series does not have is one false "channel" claim; its numbers are not checked. Sentences outside the phrase
banks (source descriptions, the synthetic generator's list of sampled attributes) make no claim, except the
synthetic generator's opening sentence (domain, channel count and length), which
`hub_datasets.synthetic.caption_attributes` writes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import numpy as np

from hub_datasets import caption_phrases as phrases
from hub_datasets.captions import (
    ELAPSED_UNITS,
    STRONG_CORRELATION,
    TimeAxis,
    correlated_pairs,
    format_number,
    format_significant,
    listed_channels,
    noise_level,
    overall_direction,
    percent_text,
    std_decimals,
    summary_decimals,
    value_decimals,
)
from hub_datasets.series_analysis import ChannelStats, ChannelStructure, analyse_series, channel_stats
from hub_datasets.synthetic import SYNTHETIC_DOMAIN
from processing_slip.frequency import parse_frequency

_NUMBER = r"-?\d+(?:\.\d+)?"
_UNIT_SECONDS = {name: seconds for name, _, seconds, _ in ELAPSED_UNITS}
_PER_UNIT_SECONDS = {per: seconds for _, per, seconds, _ in ELAPSED_UNITS}
_POINT = (
    r"step \d+"
    rf"|{_NUMBER} (?:{'|'.join(_UNIT_SECONDS)})\b"
    r"|\d{4}(?:-\d{2}(?:-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?)?)?"
)
_AT = rf"(?:at|on|in) (?:{_POINT})"
_DURATION = rf"{_NUMBER} (?:steps|{'|'.join(_UNIT_SECONDS)})\b"
_NAME = r"(?!(?:[Ii]ts?|then)\b)[^\s,;:()](?:(?!\. )[^,;:()])*?"
"""A channel name: not a pronoun or the "then" that joins trend phases, no clause punctuation."""
_FREE = r"\S(?:(?!\. ).)*?"
_UNIT = r"(?: (?:(?!\. )[^,;()])+?)?"
_START = r"(?:^|(?<=[.;:,] ))"
"""Where a sentence or clause opening with a name or free text may start: the caption's start or a break."""
_OPEN_FIELDS = (_NAME, _FREE)

_FIELDS = {
    **dict.fromkeys(("name", "a", "b", "max_name", "min_name"), _NAME),
    **dict.fromkeys(("domain", "domain_cap", "device", "label", "item"), _FREE),
    **dict.fromkeys(
        "mean std min max value low_mean high_mean percent amplitude size r bound rate".split(), _NUMBER
    ),
    **dict.fromkeys(("length", "count", "breaks", "rising", "falling", "flat"), r"\d+"),
    **dict.fromkeys(("channels", "channels_cap"), r"\d+ channels?"),
    **dict.fromkeys(("unit", "max_unit", "min_unit"), _UNIT),
    **dict.fromkeys(("t_min", "t_max", "at"), _AT),
    **dict.fromkeys(("period", "interval"), _DURATION),
    "start": _POINT,
    "span": rf"from (?:{_POINT}) to (?:{_POINT})",
    "duration": rf"(?: \({_DURATION}\))?",
    "ends": r"(?:; (?:(?!\. ).)+?)?",
    "verb": "|".join((*phrases.RISE_VERBS, *phrases.FALL_VERBS)),
    "adjective": "rising|falling",
    "level": "|".join(phrases.NOISE_LEVELS),
    "direction": "up|down",
    "count_text": r"\d+ spikes?",
    "strength": "strongly",
    "sign": "positively|negatively",
    "together": "together|in opposite directions",
    "items": r"[^()]+",
    "first": _NUMBER + _UNIT,
    "last": _NUMBER + _UNIT,
}
"""What each template field of the phrase banks can hold; a `_Bank` overrides a few of them."""

_SLOPE = {"rate": _NUMBER + _UNIT, "unit": "|".join(["step", *_PER_UNIT_SECONDS])}
_SYNTHETIC_OPENING = ("{opening} {kind} series of {length} steps composed of {components}.",)
"""The opening of `hub_datasets.synthetic.caption_attributes`'s semantic level (it is no phrase bank)."""


_NOT_ANALYSED = "no structure analysed (too short, constant or empty)"
"""The truth of a structural claim about a channel `analyse_series` does not analyse."""
_FOLLOWERS = frozenset(
    {"SEGMENT_SLOPED", "SEGMENT_FLAT", "PERIOD", "NO_PERIOD", "NOISE", "NO_SPIKES", "SPIKES", "LEVEL_SHIFT"}
)
"""Structural clauses without a channel name: they are about the channel the last named sentence was about."""


@dataclass(frozen=True)
class SeriesMetadata:
    """What a series is besides its values: the truth for a caption's semantic claims ("" / () if unknown)."""

    channel_names: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    domain: str = ""
    device: str = ""
    label: str = ""
    start: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SeriesMetadata:
        """From a corpus (or QA / classification) row: its columns, plus the device and label that its
        reference semantic caption states (``caption_semantic``, else ``caption``); no column holds them."""
        reference = row.get("caption_semantic") or row.get("caption") or ""
        stated = _stated_identity(reference)
        return cls(
            channel_names=tuple(row.get("channel_names") or ()),
            units=tuple(row.get("units") or ()),
            domain=row.get("domain") or stated.get("domain", ""),
            device=stated.get("device", ""),
            label=stated.get("label", ""),
        )


@dataclass(frozen=True)
class Claim:
    """One claim of a caption: ``true`` is None when the series and its metadata cannot settle it."""

    kind: str
    text: str
    stated: str
    truth: str | None
    true: bool | None
    channel: str | None = None


@dataclass(frozen=True)
class CaptionFaithfulness:
    """The claims one caption makes about its series, each with its verdict."""

    caption: str
    claims: tuple[Claim, ...]

    @property
    def made(self) -> int:
        return len(self.claims)

    @property
    def checked(self) -> int:
        return sum(claim.true is not None for claim in self.claims)

    @property
    def true(self) -> int:
        return sum(claim.true is True for claim in self.claims)

    @property
    def faithful(self) -> bool:
        """At least one claim checked, and every checked claim true."""
        return self.checked > 0 and self.true == self.checked

    def as_dict(self) -> dict[str, Any]:
        return {
            "caption": self.caption,
            "made": self.made,
            "checked": self.checked,
            "true": self.true,
            "faithful": self.faithful,
            "claims": [asdict(claim) for claim in self.claims],
        }


# Parsing


@dataclass(frozen=True)
class _Statement:
    """One sentence or clause of a caption matched by a phrase-bank template."""

    bank: str
    fields: dict[str, str]
    text: str
    start: int
    end: int
    literal: int


def _template_regex(template: str, overrides: Mapping[str, str]) -> str:
    """A template as a regex: fields become named groups (a repeated field repeats its text), literals are
    exact, but an opening letter may be lower case (after a lead-in) and a final full stop ends a sentence."""
    fields = {**_FIELDS, **overrides}
    parts, seen, position = [], set(), 0
    for field in re.finditer(r"\{(\w+)\}", template):
        parts.append(re.escape(template[position : field.start()]))
        name = field[1]
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{fields[name]})")
        seen.add(name)
        position = field.end()
    tail = template[position:]
    parts.append(re.escape(tail[:-1]) + r"\.(?=\s|$)" if tail.endswith(".") else re.escape(tail))
    pattern = "".join(parts)
    opening = re.match(r"\{(\w+)\}", template)
    if template[0].isalpha():
        pattern = f"[{template[0].upper()}{template[0].lower()}]" + pattern[1:]
    elif opening and fields[opening[1]] in _OPEN_FIELDS:
        pattern = _START + pattern
    return pattern


@lru_cache(maxsize=1)
def _compiled() -> list[tuple[str, re.Pattern[str], int]]:
    """(bank, compiled template, length of its literal text) for every template of `_BANKS`."""
    compiled = []
    for name, bank in _BANKS.items():
        for template in bank.templates:
            literal = len(re.sub(r"\{\w+\}", "", template))
            compiled.append((name, re.compile(_template_regex(template, bank.fields)), literal))
    return compiled


def _statements(caption: str) -> list[_Statement]:
    """The phrase-bank sentences and clauses of ``caption`` in reading order; where templates overlap, the one
    that starts first wins, then the longer, then the one with more literal text (the more specific)."""
    found = [
        _Statement(bank, match.groupdict(), match[0], match.start(), match.end(), literal)
        for bank, pattern, literal in _compiled()
        for match in pattern.finditer(caption)
    ]
    found.sort(key=lambda s: (s.start, -(s.end - s.start), -s.literal))
    kept, end = [], 0
    for statement in found:
        if statement.start >= end:
            kept.append(statement)
            end = statement.end
    return kept


def _stated_identity(reference: str) -> dict[str, str]:
    """Domain, device and label as a (reference) caption states them."""
    stated: dict[str, str] = {}
    for statement in _statements(reference):
        fields = statement.fields
        for key, value in (
            ("domain", fields.get("domain") or fields.get("domain_cap")),
            ("device", fields.get("device")),
            ("label", fields.get("label")),
        ):
            if value:
                stated[key] = value
    return stated


# Comparing


def _same_number(stated: str, printed: str) -> bool:
    """Whether ``stated`` is the number the captioner ``printed`` ("2.140" and "2.14" are; "2.1" and "2.14"
    are not): its rounding is the tolerance, and digits beyond the printed places are rounded off first."""
    value, target = Decimal(stated), Decimal(printed)
    places = min(target.as_tuple().exponent, 0)
    if value.as_tuple().exponent < places:
        value = value.quantize(Decimal(1).scaleb(places), rounding=ROUND_HALF_EVEN)
    return value == target


def _quantity(text: str) -> tuple[str, str]:
    """("2.5", "s") from "2.5 s"; the unit is "" for a bare number."""
    text = text.strip()
    number = re.match(_NUMBER, text)[0]
    return number, text[len(number) :].strip()


def _stated_direction(word: str) -> int:
    return 1 if word in (*phrases.RISE_VERBS, "rising", "up") else -1


def _direction_text(direction: int) -> str:
    return {1: "rising", -1: "falling", 0: "no clear trend"}[direction]


class _Series:
    """The facts a caption is checked against, each computed once, with the captioner's own functions."""

    def __init__(self, series: np.ndarray, freq: str, metadata: SeriesMetadata):
        values = np.asarray(series, dtype=np.float64)
        self.values = values[None, :] if values.ndim == 1 else values
        if self.values.ndim != 2 or self.values.shape[1] == 0:
            raise ValueError(f"series must have shape (channels, length), got {np.shape(series)}.")
        self.channels, self.length = self.values.shape
        self.metadata = metadata
        self.seconds_per_step = parse_frequency(freq) if freq else None
        start = metadata.start if self.seconds_per_step is not None else None
        self.axis = TimeAxis(self.length, self.seconds_per_step, start)
        self.elapsed = TimeAxis(self.length, self.seconds_per_step)

    @cached_property
    def stats(self) -> list[ChannelStats]:
        return channel_stats(self.values)

    @cached_property
    def structures(self) -> list[ChannelStructure | None]:
        return analyse_series(self.values)

    @cached_property
    def pairs(self) -> list[tuple[int, int, float]]:
        return correlated_pairs(self.values, self.stats)

    def correlation(self, a: int, b: int) -> float | None:
        return next((r for x, y, r in self.pairs if {x, y} == {a, b}), None)

    def channel(self, name: str) -> int | None:
        """Index of a stated channel name, -1 for a name the series does not have; where the names are
        unknown, the one channel of a univariate series, else None."""
        names = self.metadata.channel_names
        if len(names) != self.channels:
            return 0 if self.channels == 1 else None
        folded = [known.casefold() for known in names]
        return folded.index(name.casefold()) if name.casefold() in folded else -1

    def name(self, c: int | None) -> str | None:
        names = self.metadata.channel_names
        return names[c] if c is not None and c >= 0 and len(names) == self.channels else None

    def point_matches(self, stated: str, step: int) -> bool | None:
        """Whether a stated time ("at 2.46 s", "step 12", "on 2024-01-05") is the time of ``step``; None when
        the series cannot tell (a time without a sampling rate, a date without a start)."""
        stated = re.sub(r"^(?:at|on|in) ", "", stated)
        if stated.startswith("step "):
            return int(stated[len("step ") :]) == step
        if not re.search(r"[a-z]", stated):
            return stated == self.axis.point(step) if self.axis.date_format is not None else None
        if self.seconds_per_step is None:
            return None
        value, unit = _quantity(stated)
        printed, printed_unit = _quantity(self.elapsed.point(step))
        converted = f"{float(value) * _UNIT_SECONDS[unit] / _UNIT_SECONDS[printed_unit]:.12f}"
        return _same_number(value if unit == printed_unit else converted, printed)

    def duration_printed(self, unit: str, steps: float) -> str | None:
        """``steps`` as the captioner prints a duration, in ``unit`` (None: no sampling rate known)."""
        if unit == "steps":
            return format_significant(steps, trim=True)
        if self.seconds_per_step is None:
            return None
        return format_significant(steps * self.seconds_per_step / _UNIT_SECONDS[unit], trim=True)

    def rate_printed(self, per_unit: str, slope: float) -> str | None:
        """A per-step slope as the captioner prints a rate, per ``per_unit`` (None: no sampling rate)."""
        if per_unit == "step":
            return format_significant(abs(slope))
        if self.seconds_per_step is None:
            return None
        return format_significant(abs(slope * _PER_UNIT_SECONDS[per_unit] / self.seconds_per_step))


# Checking


class _Check:
    """Collects the claims of one statement; ``channel`` is the channel a per-channel statement is about."""

    def __init__(self, series: _Series, statement: _Statement, channel: int | None):
        self.series, self.statement, self.channel = series, statement, channel
        self.fields = statement.fields
        self.claims: list[Claim] = []

    @property
    def stat(self) -> ChannelStats:
        return self.series.stats[self.channel]

    @property
    def structure(self) -> ChannelStructure | None:
        return self.series.structures[self.channel]

    def add(self, kind: str, stated: str, truth: str | None, true: bool, channel: int | None = None) -> None:
        """A claim; with no ``truth`` (the series cannot settle it) it is made but not checked."""
        name = self.series.name(self.channel if channel is None else channel)
        verdict = None if truth is None else bool(true)
        self.claims.append(Claim(kind, self.statement.text, stated, truth, verdict, name))

    def number(self, kind: str, stated: str, printed: str | None, channel: int | None = None) -> None:
        self.add(kind, stated, printed, printed is not None and _same_number(stated, printed), channel)

    def point(self, kind: str, stated: str, step: int, channel: int | None = None) -> None:
        verdict = self.series.point_matches(stated, step)
        truth = None if verdict is None else self.series.axis.point(step)
        self.add(kind, stated, truth, bool(verdict), channel)

    def duration(self, kind: str, stated: str, steps: float, channel: int | None = None) -> None:
        value, unit = _quantity(stated)
        printed = self.series.duration_printed(unit, steps)
        truth = None if printed is None else f"{printed} {unit}"
        self.add(kind, stated, truth, printed is not None and _same_number(value, printed), channel)

    def identity(self, kind: str, stated: str, truth: str) -> None:
        """A name-like claim (domain, device, label): true when it is the known one, up to letter case."""
        self.add(kind, stated, truth or None, stated.casefold() == truth.casefold())

    def resolve(self, stated: str) -> int | None:
        """The channel a name denotes, adding a "channel" claim: false for a name the series does not have,
        unchecked where the names are unknown and the series has several channels."""
        c = self.series.channel(stated)
        if c == -1:
            self.add("channel", stated, ", ".join(self.series.metadata.channel_names), False, channel=-1)
            return None
        if c is None:
            self.add("channel", stated, None, False, channel=-1)
        return c


# Statistical level


def _channel_count(check: _Check, stated: str) -> None:
    count = 1 if stated in ("univariate", "one channel") else int(re.match(r"\d+", stated)[0])
    check.add("channel count", stated, str(check.series.channels), count == check.series.channels)


def _length(check: _Check) -> None:
    stated = check.fields["length"]
    check.add("length", stated, str(check.series.length), int(stated) == check.series.length)


def _series_header(check: _Check) -> None:
    _channel_count(check, check.fields.get("channels") or check.fields["channels_cap"])
    _length(check)
    if check.fields["duration"]:
        check.duration("duration", check.fields["duration"].strip(" ()"), check.series.length)


def _range_text(stat: ChannelStats) -> str:
    if not stat.observed:
        return "no observed values"
    decimals = value_decimals(stat)
    return f"from {format_number(stat.min, decimals)} to {format_number(stat.max, decimals)}"


def _channel_stats(check: _Check) -> None:
    stat, fields = check.stat, check.fields
    if not stat.observed:
        check.add("observed values", fields["mean"], _range_text(stat), False)
        return
    decimals = value_decimals(stat)
    check.number("mean", fields["mean"], format_number(stat.mean, decimals))
    check.number("std", fields["std"], format_number(stat.std, std_decimals(stat)))
    check.number("min", fields["min"], format_number(stat.min, decimals))
    check.number("max", fields["max"], format_number(stat.max, decimals))
    check.point("min time", fields["t_min"], stat.argmin)
    check.point("max time", fields["t_max"], stat.argmax)


def _channel_constant(check: _Check) -> None:
    stat, stated = check.stat, check.fields["value"]
    if stat.constant:
        check.number("constant", stated, format_number(stat.max, value_decimals(stat)))
    else:
        check.add("constant", stated, _range_text(stat), False)


def _channel_empty(check: _Check) -> None:
    stat = check.stat
    truth = "no observed values" if not stat.observed else f"{percent_text(stat.missing_fraction)}% missing"
    check.add("observed values", "none", truth, not stat.observed)


def _missing(check: _Check) -> None:
    check.number("missing share", check.fields["percent"], percent_text(check.stat.missing_fraction))


def _extreme_channel(check: _Check, kind: str, stated: str, c: int) -> None:
    truth = check.series.name(c)
    check.add(kind, stated, truth, truth is not None and stated.casefold() == truth.casefold(), channel=c)


def _many_channel_stats(check: _Check) -> None:
    stats, fields = check.series.stats, check.fields
    observed = [c for c, stat in enumerate(stats) if stat.observed]
    stated_means = f"{fields['low_mean']} to {fields['high_mean']}"
    if not observed:
        check.add("mean range", stated_means, "no observed values", False)
        return
    decimals = summary_decimals(stats)
    low_mean, high_mean = (format_number(f([stats[c].mean for c in observed]), decimals) for f in (min, max))
    both = _same_number(fields["low_mean"], low_mean) and _same_number(fields["high_mean"], high_mean)
    check.add("mean range", stated_means, f"{low_mean} to {high_mean}", both)
    high = max(observed, key=lambda c: stats[c].max)
    low = min(observed, key=lambda c: stats[c].min)
    for kind, c, value, step in (
        ("max", high, stats[high].max, stats[high].argmax),
        ("min", low, stats[low].min, stats[low].argmin),
    ):
        check.number(kind, fields[kind], format_number(value, decimals), channel=c)
        _extreme_channel(check, f"{kind} channel", fields[f"{kind}_name"], c)
        check.point(f"{kind} time", fields[f"t_{kind}"], step, channel=c)


def _many_channel_missing(check: _Check) -> None:
    missing = [stat.missing_fraction for stat in check.series.stats if stat.missing_fraction > 0]
    stated = check.fields["count"]
    check.add("missing channels", stated, str(len(missing)), int(stated) == len(missing))
    check.number("missing share", check.fields["percent"], percent_text(max(missing, default=0.0)))


# Structural level, per channel


@lru_cache(maxsize=1)
def _ends_patterns() -> list[re.Pattern[str]]:
    return [re.compile(_template_regex(template, {})) for template in phrases.TOO_SHORT_ENDS]


def _too_short(check: _Check) -> None:
    stat, stated = check.stat, check.fields["length"]
    observed = np.flatnonzero(np.isfinite(check.series.values[check.channel]))
    too_short = check.structure is None and stat.observed and not stat.constant
    truth = f"{observed.size} observed steps" if too_short else "analysed for structure"
    check.add("too short", f"{stated} steps", truth, too_short and int(stated) == observed.size)
    ends = next(filter(None, (p.fullmatch(check.fields["ends"]) for p in _ends_patterns())), None)
    if ends and observed.size:
        decimals = value_decimals(stat)
        for kind, step in (("first", observed[0]), ("last", observed[-1])):
            value = check.series.values[check.channel, step]
            check.number(f"{kind} value", _quantity(ends[kind])[0], format_number(value, decimals))


def _constant(check: _Check) -> None:
    check.add(
        "constant",
        "constant",
        "constant" if check.stat.constant else _range_text(check.stat),
        check.stat.constant,
    )


def _trend_text(structure: ChannelStructure | None, axis: TimeAxis) -> str:
    if structure is None:
        return _NOT_ANALYSED
    return "; ".join(
        f"{_direction_text(segment.direction)} {axis.span(segment.start, segment.end - 1)}"
        for segment in structure.segments
    )


def _no_trend(check: _Check) -> None:
    structure = check.structure
    flat = structure is None or not any(segment.direction for segment in structure.segments)
    check.add("trend direction", "no clear trend", _trend_text(structure, check.series.axis), flat)


def _one_trend(check: _Check) -> None:
    structure, fields = check.structure, check.fields
    direction = _stated_direction(fields.get("verb") or fields["adjective"])
    truth = _trend_text(structure, check.series.axis)
    right = structure is not None and overall_direction(structure) == direction
    check.add("trend direction", _direction_text(direction), truth, right)
    if right and len(structure.segments) == 1:
        rate = check.series.rate_printed(fields["unit"], structure.segments[0].slope)
        check.number("trend rate", _quantity(fields["rate"])[0], rate)


def _segments_intro(check: _Check) -> None:
    fields, structure = check.fields, check.structure
    stated = int(fields["count"]) if fields.get("count") else int(fields["breaks"]) + 1
    phases = 0 if structure is None else len(structure.segments)
    check.add("trend phases", str(stated), str(phases), stated == phases)


def _segment(check: _Check) -> None:
    fields, structure = check.fields, check.structure
    direction = _stated_direction(fields["verb"]) if fields.get("verb") else 0
    first, last = re.fullmatch(rf"from ({_POINT}) to ({_POINT})", fields["span"]).groups()
    segments = () if structure is None else structure.segments
    spans = [
        (check.series.point_matches(first, s.start), check.series.point_matches(last, s.end - 1))
        for s in segments
    ]
    truth = _trend_text(structure, check.series.axis) if all(None not in span for span in spans) else None
    found = next((s for s, span in zip(segments, spans) if all(span)), None)
    right = found is not None and found.direction == direction
    check.add("trend phase", f"{_direction_text(direction)} {fields['span']}", truth, right)
    if right and direction:
        check.number(
            "trend rate", _quantity(fields["rate"])[0], check.series.rate_printed(fields["unit"], found.slope)
        )


def _period(check: _Check) -> None:
    structure, fields = check.structure, check.fields
    if structure is None or structure.period is None:
        check.add("period", fields["period"], "no clear cycle", False)
        return
    check.duration("period", fields["period"], structure.period)
    check.number("cycle amplitude", fields["amplitude"], format_significant(structure.seasonal_amplitude, 2))


def _no_period(check: _Check) -> None:
    structure = check.structure
    none = structure is None or structure.period is None
    truth = "no clear cycle" if none else check.series.axis.duration(structure.period)
    check.add("period", "no clear cycle", truth, none)


def _noise(check: _Check) -> None:
    structure, fields = check.structure, check.fields
    if structure is None:
        check.add("noise level", fields["level"], _NOT_ANALYSED, False)
        return
    check.add(
        "noise level", fields["level"], noise_level(structure), fields["level"] == noise_level(structure)
    )
    check.number("noise std", fields["std"], format_significant(structure.noise_std, 2))


def _events_text(events: Sequence[Any], axis: TimeAxis, size: Callable[[Any], float]) -> str:
    return ", ".join(f"{'up' if size(e) > 0 else 'down'} {axis.at(e.position)}" for e in events) or "none"


def _no_spikes(check: _Check) -> None:
    spikes = () if check.structure is None else check.structure.spikes
    check.add("spikes", "none", _events_text(spikes, check.series.axis, lambda s: s.direction), not spikes)


def _event(
    check: _Check, kind: str, events: Sequence[Any], direction: str, at: str, size: Callable[[Any], float]
):
    """The detected spike or shift at the stated time with the stated direction, adding the claim; or None."""
    matches = [check.series.point_matches(at, event.position) for event in events]
    truth = None if None in matches else _events_text(events, check.series.axis, size)
    found = next((e for e, hit in zip(events, matches) if hit and (size(e) > 0) == (direction == "up")), None)
    check.add(kind, f"{direction} {at}", truth, found is not None)
    return found


@lru_cache(maxsize=1)
def _spike_item_patterns() -> list[re.Pattern[str]]:
    return [re.compile(_template_regex(template, {})) for template in phrases.SPIKE_ITEM]


def _spikes(check: _Check) -> None:
    spikes = () if check.structure is None else check.structure.spikes
    stated = int(re.match(r"\d+", check.fields["count_text"])[0])
    check.add("spike count", str(stated), str(len(spikes)), stated == len(spikes))
    items = sorted(
        (match for pattern in _spike_item_patterns() for match in pattern.finditer(check.fields["items"])),
        key=lambda match: match.start(),
    )
    for item in items:
        spike = _event(check, "spike", spikes, item["direction"], item["at"], lambda s: s.direction)
        if spike is not None:
            check.number("spike value", item["value"], format_number(spike.value, value_decimals(check.stat)))


def _level_shift(check: _Check) -> None:
    shifts = () if check.structure is None else check.structure.level_shifts
    fields = check.fields
    shift = _event(check, "level shift", shifts, fields["direction"], fields["at"], lambda s: s.size)
    if shift is not None:
        check.number("level shift size", fields["size"], format_significant(abs(shift.size), 2))


# Structural level, across channels


def _pair(check: _Check) -> tuple[int, int] | None:
    a, b = check.resolve(check.fields["a"]), check.resolve(check.fields["b"])
    return None if a is None or b is None else (a, b)


def _correlated(check: _Check) -> None:
    fields, pair = check.fields, _pair(check)
    if pair is None:
        return
    r = check.series.correlation(*pair)
    positive = (fields.get("sign") or fields["together"]) in ("positively", "together")
    truth = "undefined (a constant or empty channel)" if r is None else format_number(r, 2)
    right = r is not None and abs(r) >= STRONG_CORRELATION and (r > 0) == positive
    check.add("correlation", fields["r"], truth, right and _same_number(fields["r"], truth))


def _weak_correlation(check: _Check) -> None:
    bound, pairs = check.fields["bound"], check.series.pairs
    strongest = max((abs(r) for _, _, r in pairs), default=None)
    truth = (
        "no pair of varying channels"
        if strongest is None
        else f"strongest |r| = {format_number(strongest, 2)}"
    )
    check.add(
        "correlation", f"every |r| < {bound}", truth, strongest is not None and strongest < float(bound)
    )


def _strongest_correlation(check: _Check) -> None:
    pair, pairs = _pair(check), check.series.pairs
    if pair is None:
        return
    if not pairs:
        check.add("correlation", check.fields["r"], "no pair of varying channels", False)
        return
    a, b, r = pairs[0]
    truth = f"{check.series.name(a) or a} and {check.series.name(b) or b}: {format_number(r, 2)}"
    right = set(pair) == {a, b} and _same_number(check.fields["r"], format_number(r, 2))
    check.add("correlation", check.fields["r"], truth, right)


def _analysed(series: _Series) -> list[tuple[int, ChannelStructure]]:
    return [(c, s) for c, s in enumerate(series.structures) if s is not None]


def _many_trends(check: _Check) -> None:
    fields, series = check.fields, check.series
    directions = [overall_direction(structure) for _, structure in _analysed(series)]
    rising, falling = directions.count(1), directions.count(-1)
    truth = (series.channels, rising, falling, series.channels - rising - falling)
    stated = tuple(int(fields[key]) for key in ("count", "rising", "falling", "flat"))
    check.add(
        "trend counts",
        "{} channels: {} rising, {} falling, {} flat".format(*stated),
        "{} channels: {} rising, {} falling, {} flat".format(*truth),
        stated == truth,
    )


def _named_items(check: _Check, pattern: str) -> Iterator[tuple[re.Match[str], int]]:
    """Each "name ..." item of a many-channel list with the channel it names; unknown names are false."""
    for item in re.finditer(pattern, check.fields["items"]):
        c = check.resolve(item["name"])
        if c is not None:
            yield item, c


def _many_periods(check: _Check) -> None:
    periodic = [c for c, structure in _analysed(check.series) if structure.period is not None]
    stated = check.fields["count"]
    check.add("periodic channels", stated, str(len(periodic)), int(stated) == len(periodic))
    for item, c in _named_items(check, rf"(?P<name>{_NAME}) every (?P<period>{_DURATION})"):
        period = check.series.structures[c].period if check.series.structures[c] else None
        if period is None:
            check.add("period", item["period"], "no clear cycle", False, channel=c)
        else:
            check.duration("period", item["period"], period, channel=c)


def _many_no_period(check: _Check) -> None:
    periodic = [c for c, structure in _analysed(check.series) if structure.period is not None]
    check.add("periodic channels", "0", str(len(periodic)), not periodic)


def _many_spikes(check: _Check) -> None:
    structures = check.series.structures
    spiky = [c for c, structure in _analysed(check.series) if structure.spikes]
    stated = check.fields["count"]
    check.add("spiky channels", stated, str(len(spiky)), int(stated) == len(spiky))
    for item, c in _named_items(check, rf"(?P<name>{_NAME}): (?P<count>\d+)"):
        count = len(structures[c].spikes) if structures[c] else 0
        check.add("spike count", item["count"], str(count), int(item["count"]) == count, channel=c)


def _many_no_spikes(check: _Check) -> None:
    spiky = [c for c, structure in _analysed(check.series) if structure.spikes]
    check.add("spiky channels", "0", str(len(spiky)), not spiky)


# Semantic level


def _opening(check: _Check) -> None:
    fields, metadata = check.fields, check.series.metadata
    domain = fields.get("domain") or fields.get("domain_cap")
    if domain:
        check.identity("domain", domain, metadata.domain)
    if fields.get("device"):
        check.identity("device", fields["device"], metadata.device)
    if fields.get("channels"):
        _channel_count(check, fields["channels"])


def _synthetic_opening(check: _Check) -> None:
    check.identity("domain", SYNTHETIC_DOMAIN, check.series.metadata.domain)
    _channel_count(check, check.fields["kind"])
    _length(check)


def _channel_list(check: _Check) -> None:
    fields, series, metadata = check.fields, check.series, check.series.metadata
    _channel_count(check, fields.get("channels") or "one channel")
    stated = fields.get("items") or fields["item"]
    if len(metadata.channel_names) != series.channels:
        check.add("channel names", stated, None, False)
        return
    if len(metadata.units) == series.channels:
        truth = listed_channels(metadata.channel_names, metadata.units)
    else:
        truth, stated = (
            listed_channels(metadata.channel_names, [""] * series.channels),
            re.sub(r" \(in [^()]*\)", "", stated),
        )
    check.add("channel names", stated, truth, stated == truth)


def _rate_hz(check: _Check) -> None:
    seconds = check.series.seconds_per_step
    printed = None if seconds is None else format_significant(1.0 / seconds, trim=True)
    check.number("sampling rate", check.fields["rate"], printed)


def _rate_interval(check: _Check) -> None:
    check.duration("sampling rate", check.fields["interval"], 1)


def _start(check: _Check) -> None:
    axis, stated = check.series.axis, check.fields["start"]
    truth = None if axis.date_format is None else axis.point(0)
    check.add("start", stated, truth, stated == truth)


def _label(check: _Check) -> None:
    check.identity("label", check.fields["label"], check.series.metadata.label)


class _Bank(NamedTuple):
    """A phrase bank: its templates, its fields that differ from `_FIELDS`, and what checks its claims."""

    templates: tuple[str, ...]
    fields: dict[str, str]
    check: Callable[[_Check], None]


_BANKS: dict[str, _Bank] = {
    "SERIES_HEADER": _Bank(phrases.SERIES_HEADER, {}, _series_header),
    "CHANNEL_STATS": _Bank(phrases.CHANNEL_STATS, {}, _channel_stats),
    "CHANNEL_CONSTANT": _Bank(phrases.CHANNEL_CONSTANT, {}, _channel_constant),
    "CHANNEL_EMPTY": _Bank(phrases.CHANNEL_EMPTY, {}, _channel_empty),
    "MISSING": _Bank(phrases.MISSING, {}, _missing),
    "MANY_CHANNEL_STATS": _Bank(phrases.MANY_CHANNEL_STATS, {}, _many_channel_stats),
    "MANY_CHANNEL_MISSING": _Bank(phrases.MANY_CHANNEL_MISSING, {}, _many_channel_missing),
    "TOO_SHORT": _Bank(phrases.TOO_SHORT, {}, _too_short),
    "CONSTANT": _Bank(phrases.CONSTANT, {}, _constant),
    "NO_TREND": _Bank(phrases.NO_TREND, {}, _no_trend),
    "ONE_TREND": _Bank(phrases.ONE_TREND, _SLOPE, _one_trend),
    "SEGMENTS_INTRO": _Bank(phrases.SEGMENTS_INTRO, {}, _segments_intro),
    "SEGMENT_SLOPED": _Bank(phrases.SEGMENT_SLOPED, _SLOPE, _segment),
    "SEGMENT_FLAT": _Bank(phrases.SEGMENT_FLAT, {}, _segment),
    "PERIOD": _Bank(phrases.PERIOD, {}, _period),
    "NO_PERIOD": _Bank(phrases.NO_PERIOD, {}, _no_period),
    "NOISE": _Bank(phrases.NOISE, {}, _noise),
    "NO_SPIKES": _Bank(phrases.NO_SPIKES, {}, _no_spikes),
    "SPIKES": _Bank(phrases.SPIKES, {"verb": "stands|stand", "items": r"(?:(?!\. ).)+?"}, _spikes),
    "LEVEL_SHIFT": _Bank(phrases.LEVEL_SHIFT, {"at": _POINT}, _level_shift),
    "CORRELATED": _Bank(phrases.CORRELATED, {}, _correlated),
    "WEAK_CORRELATION": _Bank(phrases.WEAK_CORRELATION, {}, _weak_correlation),
    "STRONGEST_CORRELATION": _Bank(phrases.STRONGEST_CORRELATION, {}, _strongest_correlation),
    "MANY_TRENDS": _Bank(phrases.MANY_TRENDS, {}, _many_trends),
    "MANY_PERIODS": _Bank(phrases.MANY_PERIODS, {}, _many_periods),
    "MANY_NO_PERIOD": _Bank(phrases.MANY_NO_PERIOD, {}, _many_no_period),
    "MANY_SPIKES": _Bank(phrases.MANY_SPIKES, {}, _many_spikes),
    "MANY_NO_SPIKES": _Bank(phrases.MANY_NO_SPIKES, {}, _many_no_spikes),
    "DOMAIN_DEVICE": _Bank(phrases.DOMAIN_DEVICE, {}, _opening),
    "DOMAIN_ONLY": _Bank(phrases.DOMAIN_ONLY, {}, _opening),
    "DEVICE_ONLY": _Bank(phrases.DEVICE_ONLY, {}, _opening),
    "GENERIC": _Bank(phrases.GENERIC, {}, _opening),
    "CHANNEL_LIST": _Bank(phrases.CHANNEL_LIST, {"items": _FREE}, _channel_list),
    "CHANNEL_SINGLE": _Bank(phrases.CHANNEL_SINGLE, {}, _channel_list),
    "CHANNEL_LIST_MANY": _Bank(phrases.CHANNEL_LIST_MANY, {"items": _FREE}, _channel_list),
    "RATE_HZ": _Bank(phrases.RATE_HZ, {}, _rate_hz),
    "RATE_INTERVAL": _Bank(phrases.RATE_INTERVAL, {}, _rate_interval),
    "START": _Bank(phrases.START, {}, _start),
    "LABEL": _Bank(phrases.LABEL, {}, _label),
    "SYNTHETIC_OPENING": _Bank(
        _SYNTHETIC_OPENING,
        {
            "opening": "A synthetic|An artificial|A simulated",
            "kind": r"univariate|\d+-channel",
            "components": _FREE,
        },
        _synthetic_opening,
    ),
}
"""Every phrase bank whose sentences make claims."""


# Public API


def check_caption(
    caption: str, series: np.ndarray, freq: str = "", metadata: SeriesMetadata | None = None
) -> CaptionFaithfulness:
    """Every claim ``caption`` makes about ``series`` (C, L), with its verdict.

    ``freq`` is the series' sampling frequency as `processing_slip` parses it ("" if unknown); ``metadata``
    says what the series is (channel names, units, domain, device, label, start), e.g.
    `SeriesMetadata.from_row`.
    """
    facts = _Series(series, freq, metadata or SeriesMetadata())
    current = 0 if facts.channels == 1 else None
    claims: list[Claim] = []
    for statement in _statements(caption):
        check = _Check(facts, statement, current)
        named = "name" in statement.fields
        if named:
            current = check.channel = check.resolve(statement.fields["name"])
        if check.channel is not None or not (named or statement.bank in _FOLLOWERS):
            _BANKS[statement.bank].check(check)
        claims.extend(check.claims)
    return CaptionFaithfulness(caption, tuple(claims))


def caption_collapse(captions: Sequence[str]) -> dict[str, float | int]:
    """How far generation collapsed: the largest share of inputs that got one same caption, and how many
    different captions there are."""
    if not captions:
        raise ValueError("need at least one caption.")
    counts = Counter(caption.strip() for caption in captions)
    return {"identical_caption_share": max(counts.values()) / len(captions), "distinct_captions": len(counts)}


def faithfulness_metrics(
    captions: Sequence[str],
    series: Sequence[np.ndarray],
    freqs: Sequence[str | None] | None = None,
    metadata: Sequence[SeriesMetadata] | None = None,
) -> dict[str, Any]:
    """Faithfulness of generated ``captions``, one per series, with the collapse figures beside it.

    Returns ``true_claim_share`` (true over checked claims, None when none was checked),
    ``faithful_caption_share`` (captions with at least one checked claim and all of them true, over all
    captions), the claim counts, `caption_collapse`'s figures, ``by_kind`` ({kind: {"checked", "true"}}) and
    ``captions`` (per caption: its counts and every claim with its verdict, for tables and figures).
    """
    freqs = [""] * len(captions) if freqs is None else freqs
    metadata = [SeriesMetadata()] * len(captions) if metadata is None else metadata
    if not len(captions) == len(series) == len(freqs) == len(metadata):
        raise ValueError(
            f"need one series, freq and SeriesMetadata per caption, got {len(captions)} captions, "
            f"{len(series)} series, {len(freqs)} freqs and {len(metadata)} metadata."
        )
    results = [check_caption(*inputs) for inputs in zip(captions, series, (f or "" for f in freqs), metadata)]
    return _aggregate(results)


def _aggregate(results: Sequence[CaptionFaithfulness]) -> dict[str, Any]:
    checked = sum(result.checked for result in results)
    true = sum(result.true for result in results)
    by_kind: dict[str, dict[str, int]] = {}
    for claim in (claim for result in results for claim in result.claims if claim.true is not None):
        counts = by_kind.setdefault(claim.kind, {"checked": 0, "true": 0})
        counts["checked"] += 1
        counts["true"] += claim.true
    return {
        "true_claim_share": true / checked if checked else None,
        "faithful_caption_share": sum(result.faithful for result in results) / len(results),
        "claims_made": sum(result.made for result in results),
        "claims_checked": checked,
        "claims_true": true,
        **caption_collapse([result.caption for result in results]),
        "by_kind": dict(sorted(by_kind.items())),
        "captions": [result.as_dict() for result in results],
    }


def faithfulness_from_rows(captions: Sequence[str], rows: Any) -> dict[str, Any]:
    """`faithfulness_metrics` for captions of dataset rows (a `datasets.Dataset`, a list of row dicts or a
    mapping of columns) with a ``series`` column and, where present, ``freq``, ``channel_names``, ``units``,
    ``domain`` and the reference ``caption_semantic`` / ``caption`` (corpus, QA and classification schemas).
    """
    records = _records(rows)
    return faithfulness_metrics(
        captions,
        [np.asarray(record["series"], dtype=np.float64) for record in records],
        [record.get("freq") or "" for record in records],
        [SeriesMetadata.from_row(record) for record in records],
    )


def _records(rows: Any) -> list[Mapping[str, Any]]:
    if isinstance(rows, Mapping):
        return [dict(zip(rows, values)) for values in zip(*rows.values())]
    return list(rows)
