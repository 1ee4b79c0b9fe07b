"""The synthetic generator: seeded, vectorised, and captioned with exactly the sampled attributes."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from hub_datasets.captions import TimeAxis, format_significant
from hub_datasets.corpus import freq_string
from hub_datasets.synthetic import (
    SAMPLING_INTERVALS,
    Coupling,
    caption_attributes,
    coupled_components,
    generate_synthetic,
    pattern_components,
    render_series,
    sample_attributes,
)
from processing_slip.frequency import parse_frequency

NUMBER = r"(-?\d+(?:\.\d+)?)"


def test_generate_is_deterministic_and_well_formed():
    first = list(generate_synthetic(20, seed=3, min_length=32, max_length=256, max_channels=4))
    second = list(generate_synthetic(20, seed=3, min_length=32, max_length=256, max_channels=4))
    for (s1, a1, c1, d1), (s2, a2, c2, d2) in zip(first, second):
        np.testing.assert_array_equal(s1, s2)
        assert a1 == a2 and c1 == c2 and d1 == d2
        assert s1.dtype == np.float32 and s1.shape == (a1.num_channels, a1.length)
        assert 32 <= a1.length <= 256 and 1 <= a1.num_channels <= 4
        assert set(c1) == {"statistical", "structural", "semantic"}
        assert len(d1.channel_names) == a1.num_channels and d1.domain == "synthetic"
    other = [c for _, _, c, _ in generate_synthetic(20, seed=4, min_length=32, max_length=256)]
    assert other != [c for _, _, c, _ in first]


def test_every_series_has_the_rate_its_captions_are_timed_in():
    """A caption counted in steps would leave the model to guess the rate; every series gets one instead, its
    freq string parses back to it, and the structural caption states times in its unit."""
    seen = set()
    for _, attrs, captions, description in generate_synthetic(90, seed=2, max_length=256):
        seen.add(attrs.seconds_per_step)
        assert description.seconds_per_step == attrs.seconds_per_step
        assert parse_frequency(freq_string(attrs.seconds_per_step)) == pytest.approx(attrs.seconds_per_step)
        assert not re.search(r"\bsteps?\b", captions["structural"]), captions["structural"]
    assert seen == set(SAMPLING_INTERVALS)


def test_univariate_ratio():
    counts = [
        a.num_channels for _, a, _, _ in generate_synthetic(60, seed=0, max_length=128, univariate_ratio=0.5)
    ]
    assert 15 <= counts.count(1) <= 45 and max(counts) > 1
    assert all(
        a.num_channels == 1
        for _, a, _, _ in generate_synthetic(10, seed=0, max_length=128, univariate_ratio=1.0)
    )


def test_render_matches_attributes():
    attrs = sample_attributes(np.random.default_rng(5), num_channels=3, length=400)
    series = render_series(attrs)
    np.testing.assert_array_equal(series, render_series(attrs))
    plain = replace(attrs, channels=tuple(replace(ch, spikes=(), level_shift=None) for ch in attrs.channels))
    expected = render_series(plain).astype(np.float64)
    for c, ch in enumerate(attrs.channels):
        for position, height in ch.spikes:
            expected[c, position] += height
        if ch.level_shift is not None:
            expected[c, ch.level_shift[0] :] += ch.level_shift[1]
    np.testing.assert_allclose(series, expected, rtol=1e-5, atol=1e-4)
    assert sum(len(ch.spikes) for ch in attrs.channels) > 0


def test_coupling_carries_the_delayed_source_pattern():
    """A coupled channel gets its source's trend and cycle as they were ``lag`` steps earlier, with no frozen
    stretch at the start (the source pattern is evaluated before the series start as well)."""
    attrs = sample_attributes(np.random.default_rng(5), num_channels=2, length=300)
    lag = 7
    attrs = replace(attrs, couplings=(Coupling(source=0, target=1, weight=0.5, lag=lag),))
    own_trend, own_cycle = pattern_components(attrs)
    trend, cycle = coupled_components(attrs)
    np.testing.assert_allclose(trend[0], own_trend[0])
    carried = trend[1] + cycle[1] - own_trend[1] - own_cycle[1]
    source = own_trend[0] + own_cycle[0]
    np.testing.assert_allclose(carried[lag:], 0.5 * source[:-lag], atol=1e-9)
    assert attrs.channels[0].period is not None and np.ptp(carried[:lag]) > 0


def test_caption_states_exactly_the_sampled_attributes():
    for seed in range(30):
        rng = np.random.default_rng(seed)
        attrs = sample_attributes(
            rng, num_channels=int(rng.integers(1, 4)), length=int(rng.integers(64, 600))
        )
        captions = caption_attributes(attrs, seed=seed)
        text = captions["structural"]
        axis = TimeAxis(attrs.length, attrs.seconds_per_step, attrs.start)
        for c, ch in enumerate(attrs.channels):
            name = f"channel {chr(ord('A') + c)}"
            sentence = text[text.index(name + " has") :]
            if ch.trend_shape == "flat":
                assert sentence.startswith(f"{name} has no trend")
            else:
                change = re.search(r"total change of " + NUMBER, sentence).group(1)
                assert change == format_significant(abs(ch.trend_change))
                assert ("rising" in sentence.split(".")[0]) == (ch.trend_change > 0)
            if ch.period is not None:
                assert (
                    f"period {axis.duration(ch.period)} and amplitude {format_significant(ch.amplitude)}"
                    in sentence
                )
            assert f"noise with std {format_significant(ch.noise_std)}" in sentence
            for position, height in ch.spikes:
                direction = "up" if height > 0 else "down"
                assert f"{direction} by {format_significant(abs(height))} {axis.at(position)}" in sentence
            if ch.level_shift is not None:
                position, size = ch.level_shift
                assert (
                    f"shifts {'up' if size > 0 else 'down'} by {format_significant(abs(size))} {axis.at(position)}"
                    in sentence
                )
        for coupling in attrs.couplings:
            assert f"scaled by {format_significant(coupling.weight)}" in text
        series = render_series(attrs)
        assert (
            captions["semantic"].split(" series")[0]
            in ("A synthetic univariate", "An artificial univariate", "A simulated univariate")
            or attrs.num_channels > 1
        )
        if any(ch.spikes for ch in attrs.channels):
            total = sum(len(ch.spikes) for ch in attrs.channels)
            assert f"{total} spike" in captions["semantic"]
        maximum = re.search(
            r"(?:maximum(?: is)?|highest value of|to) " + NUMBER + r" \(?(?:at|on|in) ",
            captions["statistical"],
        )
        assert (
            abs(float(maximum.group(1)) - series[0].max())
            <= 0.5 * 10 ** -len((maximum.group(1) + ".").split(".")[1] or "") + 1e-6
        )


def test_bad_arguments():
    with pytest.raises(ValueError, match="min_length"):
        next(generate_synthetic(1, seed=0, min_length=8))
    with pytest.raises(ValueError, match="univariate_ratio"):
        next(generate_synthetic(1, seed=0, univariate_ratio=2.0))
    with pytest.raises(ValueError, match="num_channels"):
        sample_attributes(np.random.default_rng(0), num_channels=0, length=100)
