"""Truth tests for the hierarchical captions: numbers and claims are parsed back out of the text and checked
against the series (and, for synthetic series, against the attributes it was made from)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hub_datasets.captions import (
    CAPTION_LEVELS,
    SeriesDescription,
    TimeAxis,
    compose_caption,
    describe_series,
    format_number,
    semantic_caption,
)
from hub_datasets.sources.hapt import describe_recording
from hub_datasets.synthetic import coupled_components, generate_synthetic, render_series, sample_attributes

NUMBER = r"(-?\d+(?:\.\d+)?)"
TIME = r"\(?at (?:step )?" + NUMBER


def tolerance(text: str) -> float:
    """Half a unit in the last stated place: '12.30' -> 0.005, '1200' -> 50."""
    if "." in text:
        return 0.5 * 10 ** -len(text.split(".")[1])
    zeros = len(text) - len(text.rstrip("0"))
    return 0.5 * 10**zeros if text.strip("-0") else 0.5


def assert_stated(text: str, true: float) -> None:
    assert abs(float(text) - true) <= tolerance(text) + 1e-9 * abs(true), (text, true)


def parse_statistics(caption: str) -> dict[str, tuple[str, str | None]]:
    patterns = {
        "mean": r"(?:mean(?: of)?|averages) " + NUMBER,
        "std": r"(?:std|standard deviation(?: of)?) " + NUMBER,
        "min": r"(?:minimum(?: is)?|lowest value of|ranges from) " + NUMBER + r"(?: [^\s\d(]+)? " + TIME,
        "max": r"(?:maximum(?: is)?|highest value of|to) " + NUMBER + r"(?: [^\s\d(]+)? " + TIME,
    }
    found = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, caption)
        assert match, (key, caption)
        found[key] = (match.group(1), match.group(2) if match.lastindex > 1 else None)
    return found


def univariate(seconds_per_step=None, unit="", start=None) -> SeriesDescription:
    return SeriesDescription(["signal"], [unit], seconds_per_step, start=start)


@pytest.mark.parametrize("seconds_per_step", [None, 0.02, 60.0])
def test_statistics_are_true(seconds_per_step):
    rng = np.random.default_rng(1)
    for seed in range(20):
        scale = 10.0 ** rng.uniform(-3, 4)
        y = scale * rng.standard_normal(int(rng.integers(20, 400))) + scale * rng.uniform(-50, 50)
        caption = describe_series(
            y[None], univariate(seconds_per_step, "V"), seed=seed, levels=("statistical",)
        )
        stats = parse_statistics(caption["statistical"])
        assert_stated(stats["mean"][0], y.mean())
        assert_stated(stats["std"][0], y.std())
        assert_stated(stats["min"][0], y.min())
        assert_stated(stats["max"][0], y.max())
        axis = TimeAxis(len(y), seconds_per_step)
        step = 1.0 if seconds_per_step is None else seconds_per_step / axis.unit_seconds
        assert round(float(stats["max"][1]) / step) == y.argmax()
        assert round(float(stats["min"][1]) / step) == y.argmin()


def test_absolute_timestamps_locate_the_maximum():
    y = np.zeros(300)
    y[123] = 5.0
    caption = describe_series(y[None], univariate(3600.0, "mm", "2024-01-05T14:00:00"), seed=0)
    assert "2024-01-10 17:00" in caption["statistical"]  # 123 hours after the start
    assert (
        "It starts at 2024-01-05 14:00" in caption["semantic"]
        or "from 2024-01-05 14:00" in caption["semantic"]
    )


def test_missing_values_are_ignored_and_reported():
    y = np.sin(np.arange(200) / 5.0)
    y[:50] = np.nan
    caption = describe_series(y[None], univariate(), seed=0)["statistical"]
    assert "25% of" in caption or "25%" in caption
    assert_stated(parse_statistics(caption)["mean"][0], np.nanmean(y))


@pytest.mark.parametrize(
    "series, statistical, structural",
    [
        (np.full((1, 40), 3.5), "constant at 3.50", "no trend, cycle or spike"),
        (np.array([[1.0, 2.0, 4.0, 3.0]]), "4.00", "too short"),
        (np.full((1, 10), np.nan), "signal", "signal"),
    ],
)
def test_degenerate_series(series, statistical, structural):
    caption = describe_series(series, univariate(), seed=0)
    assert statistical in caption["statistical"] or "stays at 3.50" in caption["statistical"]
    assert structural in caption["structural"] or "does not vary" in caption["structural"]


def test_short_series_states_only_its_ends():
    caption = describe_series(np.array([[1.0, 2.0, 4.0, 3.0]]), univariate(), seed=0)["structural"]
    assert "1.00" in caption and "3.00" in caption and "period" not in caption


def test_constant_series_has_no_structure():
    caption = describe_series(np.full((1, 40), 2.0), univariate(), seed=0)["structural"]
    assert "no trend, cycle or spike" in caption or "no trend, cycle or spikes" in caption


PERIOD = r"(?:period of about|cycle of about|oscillates every) " + NUMBER + r" (steps|s|min|h|days|years)"
SPIKE = r"(up|down) (?:to|reaching) " + NUMBER + r" at step (\d+)"
SHIFT = r"level shifts? (up|down) (?:by|of) about " + NUMBER + r" (?:occurs )?around step (\d+)"
RISE = r"\b(rises|increases|climbs|rising)\b"
FALL = r"\b(falls|decreases|declines|falling)\b"
SEGMENT = r"(?:it (\w+) at (?:about|roughly) [\d.]+ per step from step (\d+) to step (\d+)|from step (\d+) to step (\d+) it (\w+) at)"
WHOLE_TREND = r"\b(?:overall at about|over the whole series|trend of about)\b"
SHIFT_TOLERANCE = 3
"""Steps a stated level shift may be off ("around step N") and still count as true."""
KINDS = ("periods", "spikes", "shifts", "trends")


def _synthetic_cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        attrs = sample_attributes(rng, num_channels=1, length=int(rng.integers(128, 1024)))
        yield attrs, render_series(attrs)[0].astype(np.float64)


def _channel_texts(text: str, names: list[str]) -> list[str]:
    """The part of a structural caption about each channel (they come in channel order)."""
    starts = [text.index(name) for name in names] + [len(text)]
    return [text[starts[c] : starts[c + 1]] for c in range(len(names))]


def _check_claims(text: str, attrs, c: int, y: np.ndarray, right: dict, wrong: dict, found: dict) -> None:
    """Sort every claim about channel ``c`` into right or wrong by what the caption literally says.

    A period must be one a component of the channel was given (its own or a coupled channel's), a spike a
    sampled spike at the stated step with the stated direction, a level shift the sampled one within
    ``SHIFT_TOLERANCE`` steps with the stated direction and a size within half of the stated one, and a
    rising (falling) trend must rise (fall) between the stated steps in the sampled trend (couplings
    included). ``found`` counts sampled structures the caption states (recall).
    """
    ch = attrs.channels[c]
    trend = coupled_components(attrs)[0][c]
    periods = [
        p
        for p in [ch.period] + [attrs.channels[k.source].period for k in attrs.couplings if k.target == c]
        if p
    ]

    def record(kind: str, ok: bool) -> None:
        (right if ok else wrong)[kind] += 1

    stated_periods = re.findall(PERIOD, text)
    for value, unit in stated_periods:
        record("periods", unit == "steps" and any(abs(float(value) - p) <= 0.05 * p for p in periods))
    found["periods"] += bool(ch.period and stated_periods)
    placed = dict(ch.spikes)
    for direction, value, step in re.findall(SPIKE, text):
        record("spikes", int(step) in placed and (direction == "up") == (placed[int(step)] > 0))
        assert_stated(value, y[int(step)])  # the value quoted is the series value there, always
        found["spikes"] += int(step) in placed
    for direction, size, step in re.findall(SHIFT, text):
        position, true_size = ch.level_shift or (-100, 0.0)
        record(
            "shifts",
            abs(int(step) - position) <= SHIFT_TOLERANCE
            and (direction == "up") == (true_size > 0)
            and abs(float(size) - abs(true_size)) <= 0.5 * float(size),
        )
        found["shifts"] += ch.level_shift is not None
    claims = [
        (verb_a or verb_b, int(a0 or b0), int(a1 or b1))
        for verb_a, a0, a1, b0, b1, verb_b in re.findall(SEGMENT, text)
    ]
    first = re.split(r"[.;]", text, maxsplit=1)[0]
    if re.search(WHOLE_TREND, first):
        claims.append((first, 0, attrs.length - 1))
    for words, start, end in claims:
        says = 1 if re.search(RISE, words) else -1 if re.search(FALL, words) else 0
        if says:
            record("trends", np.sign(trend[end] - trend[start]) == says)
    found["trends"] += ch.trend_shape != "flat" and any(re.search(RISE + "|" + FALL, w) for w, _, _ in claims)


def test_structural_claims_are_all_true():
    """No wrong claim at all: every stated period, spike, level shift and trend direction is sampled.

    Univariate series plus multichannel ones with couplings (a coupled channel carries a second cycle and
    trend, the hardest case for the detectors).
    """
    right, wrong = dict.fromkeys(KINDS, 0), dict.fromkeys(KINDS, 0)
    found = dict.fromkeys(KINDS, 0)
    for seed, (attrs, y) in enumerate(_synthetic_cases(80, seed=7)):
        text = describe_series(y[None], univariate(), seed=seed, levels=("structural",))["structural"]
        _check_claims(text, attrs, 0, y, right, wrong, found)
    for seed, (series, attrs, _, _) in enumerate(generate_synthetic(40, seed=1, max_length=768)):
        names = [f"ch{c}" for c in range(attrs.num_channels)]
        info = SeriesDescription(names, [""] * len(names), None)
        text = describe_series(series, info, seed=seed, levels=("structural",))["structural"]
        for c, part in enumerate(_channel_texts(text, names)):
            _check_claims(part, attrs, c, series[c].astype(np.float64), right, wrong, found)
    assert wrong == dict.fromkeys(KINDS, 0), (right, wrong)
    assert all(right[kind] > 20 for kind in KINDS), right


def test_sampled_structure_is_found():
    """Recall: the conservative detectors still state most sampled cycles, spikes, shifts and trends."""
    found, total = dict.fromkeys(KINDS, 0), dict.fromkeys(KINDS, 0)
    right, wrong = dict.fromkeys(KINDS, 0), dict.fromkeys(KINDS, 0)
    for seed, (attrs, y) in enumerate(_synthetic_cases(60, seed=11)):
        ch = attrs.channels[0]
        text = describe_series(y[None], univariate(), seed=seed, levels=("structural",))["structural"]
        _check_claims(text, attrs, 0, y, right, wrong, found)
        total["periods"] += ch.period is not None
        total["spikes"] += len(ch.spikes)
        total["shifts"] += ch.level_shift is not None
        total["trends"] += ch.trend_shape != "flat"
    for kind, share in (("periods", 0.8), ("spikes", 0.8), ("shifts", 0.8), ("trends", 0.6)):
        assert found[kind] >= share * total[kind], (found, total)


def test_pure_noise_claims_nothing():
    rng = np.random.default_rng(0)
    for seed in range(20):
        y = rng.standard_normal(512)
        text = describe_series(y[None], univariate(), seed=seed, levels=("structural",))["structural"]
        assert not re.search(PERIOD, text) and not re.search(SHIFT, text) and not re.search(RISE, text), text


def test_sine_period_in_time_units():
    t = np.arange(1000)
    y = np.sin(2 * np.pi * t / 37.0) + 0.1 * np.random.default_rng(0).standard_normal(1000)
    text = describe_series(y[None], univariate(0.01, "mV"), seed=3, levels=("structural",))["structural"]
    value, unit = re.search(PERIOD, text).groups()
    assert unit == "s" and abs(float(value) - 0.37) <= 0.05 * 0.37


def test_cross_channel_correlation_is_stated_truthfully():
    rng = np.random.default_rng(0)
    base = np.cumsum(rng.standard_normal(300))
    series = np.stack([base, -2 * base + 0.1 * rng.standard_normal(300), rng.standard_normal(300)])
    info = SeriesDescription(["a", "b", "c"], ["", "", ""], None)
    text = describe_series(series, info, seed=0, levels=("structural",))["structural"]
    r = float(re.search(r"a and b .*?\(r = " + NUMBER, text).group(1))
    assert_stated(str(r), np.corrcoef(series[0], series[1])[0, 1])
    assert r < -0.9 and "b and c" not in text


def test_many_channels_are_summarised():
    rng = np.random.default_rng(0)
    series = rng.standard_normal((20, 200))
    series[7, 50] = 40.0
    info = SeriesDescription([f"ch{i}" for i in range(20)], ["V"] * 20, 1.0)
    caption = describe_series(series, info, seed=0)
    assert re.search(r"40\.0 V,? (?:in|occurs in) ch7 at 0\.83 min", caption["statistical"]), caption
    assert len(caption["structural"]) < 800 and "20 channels" in caption["structural"]


def test_determinism_and_varied_phrasing():
    rng = np.random.default_rng(0)
    series = rng.standard_normal((2, 256)).cumsum(axis=1)
    info = SeriesDescription(
        ["x", "y"], ["g", "g"], 0.02, domain="human activity recognition", device="a phone"
    )
    assert describe_series(series, info, seed=5) == describe_series(series, info, seed=5)
    variants = {
        level: {describe_series(series, info, seed=s)[level] for s in range(12)} for level in CAPTION_LEVELS
    }
    assert all(len(texts) >= 4 for texts in variants.values()), {k: len(v) for k, v in variants.items()}
    facts = {re.sub(r"[^\d.\-]+", " ", t).split().__len__() for t in variants["statistical"]}
    assert len(facts) == 1  # same numbers whatever the phrasing


def test_semantic_level():
    info = SeriesDescription(
        ["acc_x", "acc_y"],
        ["g", "g"],
        0.02,
        domain="human activity recognition",
        device="a waist phone",
        label="walking",
    )
    text = describe_series(np.zeros((2, 64)), info, seed=0, levels=("semantic",))["semantic"]
    for fact in ("human activity recognition", "a waist phone", "acc_x (in g)", "50 Hz", "walking"):
        assert fact in text


def test_compose_caption_order_and_mix():
    parts = {"statistical": "The mean is 1.", "structural": "It rises.", "semantic": "ECG data."}
    text = compose_caption(parts, ["statistical", "semantic"], seed=0)
    assert text.startswith("ECG data.") and text.endswith("mean is 1.") and "rises" not in text
    assert compose_caption(parts, ["semantic"], seed=3) == "ECG data."
    with pytest.raises(ValueError, match="Unknown caption levels"):
        compose_caption(parts, ["visual"], seed=0)
    with pytest.raises(ValueError, match="at least one"):
        compose_caption(parts, [], seed=0)


def test_bad_input_is_rejected():
    info = univariate()
    with pytest.raises(ValueError, match="channel_names"):
        describe_series(np.zeros((2, 10)), info, seed=0)
    with pytest.raises(ValueError, match="levels"):
        describe_series(np.zeros((1, 10)), info, seed=0, levels=("visual",))
    with pytest.raises(ValueError, match="infinite"):
        describe_series(np.full((1, 10), np.inf), info, seed=0)
    with pytest.raises(ValueError, match="seconds_per_step"):
        TimeAxis(10, -1.0)


def test_format_number_is_plain_decimal():
    assert format_number(123456.0, -3) == "123000"
    assert format_number(-0.0004, 2) == "0.00"
    assert format_number(1.5e-7, 8) == "0.00000015"


def test_real_series_sunspots_and_co2():
    """Real data: yearly sunspots cycle ~11 years; weekly Mauna Loa CO2 rises with a yearly cycle (NaN gaps)."""
    datasets = pytest.importorskip("statsmodels.api").datasets
    sunspots = datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float64)
    info = SeriesDescription(
        ["sunspot activity"], [""], 365.25 * 86400, domain="solar physics", start="1700-01-01"
    )
    caption = describe_series(sunspots[None], info, seed=0)
    value, unit = re.search(PERIOD, caption["structural"]).groups()
    assert unit == "years" and 9.5 <= float(value) <= 12.0
    assert "in " + str(1700 + int(sunspots.argmax())) in caption["statistical"]
    assert_stated(
        parse_statistics(re.sub(r"\(?in (?=\d)", "at ", caption["statistical"]))["max"][0], sunspots.max()
    )

    co2 = datasets.co2.load_pandas().data["co2"].to_numpy(dtype=np.float64)
    info = SeriesDescription(["co2"], ["ppm"], 7 * 86400, domain="atmospheric chemistry", start="1958-03-29")
    caption = describe_series(co2[None], info, seed=1)
    value, unit = re.search(PERIOD, caption["structural"]).groups()
    assert unit == "days" and abs(float(value) - 365.25) <= 0.05 * 365.25
    assert re.search(RISE, caption["structural"]) and not re.search(FALL, caption["structural"])
    assert "missing" in caption["statistical"]
    assert_stated(
        parse_statistics(re.sub(r"\(?on (?=\d)", "at ", caption["statistical"]))["mean"][0], np.nanmean(co2)
    )


@pytest.mark.parametrize("seed", range(4))
def test_semantic_caption_is_the_semantic_level_without_values(seed):
    info = describe_recording(2)
    values = np.random.default_rng(seed).normal(size=(6, 128))
    described = describe_series(values, info, seed=seed, levels=("semantic",))["semantic"]
    assert semantic_caption(info, 128, seed=seed) == described
    assert "while walking upstairs" in described and "walking upstairs." in described.split("while")[-1]
