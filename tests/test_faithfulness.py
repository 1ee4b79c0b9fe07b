"""Caption faithfulness: corpus captions are true of their own series; moved, edited and hand-written wrong
captions are caught; collapse is measured; `caption_metrics` reports it all beside the text metrics."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation_slip.faithfulness import (
    SeriesMetadata,
    caption_collapse,
    check_caption,
    faithfulness_from_rows,
    faithfulness_metrics,
)
from hub_datasets import caption_phrases as phrases
from hub_datasets.captions import (
    CAPTION_LEVELS,
    SeriesDescription,
    compose_caption,
    describe_series,
    format_number,
    value_decimals,
)
from hub_datasets.corpus import SlipCorpus, freq_string
from hub_datasets.series_analysis import channel_stats
from hub_datasets.sources.hapt import DEVICE as HAPT_DEVICE

CAPTION_COLUMNS = ("caption", *(f"caption_{level}" for level in CAPTION_LEVELS))
SOURCE_WEIGHTS = dict(
    synthetic=0.3, hapt_train=0.2, daphnet=0.1, physiology=0.15, simulated_physiology=0.1, forecasting=0.15
)
CHECKED_KINDS = set(
    "domain, device, label, channel count, channel names, sampling rate, length, duration, mean, std, min, "
    "max, min time, max time, trend direction, period, noise level, spikes, correlation".split(", ")
)
"""Kinds of claims the corpus captions of every source make between them; each must be checked."""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    builder = SlipCorpus(
        cache_dir=str(tmp_path_factory.mktemp("corpus")),
        size=40,
        shard_size=40,
        source_weights=SOURCE_WEIGHTS,
        seed=3,
    )
    builder.download_and_prepare()
    return builder.as_dataset("train")


def _verdicts(result, kind: str) -> list[bool | None]:
    return [claim.true for claim in result.claims if claim.kind == kind]


@pytest.mark.parametrize("column", CAPTION_COLUMNS)
def test_corpus_captions_are_true_of_their_own_series(corpus, column):
    assert set(corpus["source"]) == set(SOURCE_WEIGHTS)
    result = faithfulness_from_rows(corpus[column], corpus)
    assert result["claims_checked"] >= 3 * len(corpus)
    assert result["true_claim_share"] == 1.0, [
        claim for caption in result["captions"] for claim in caption["claims"] if claim["true"] is False
    ]
    if column != "caption_structural":  # synthetic rows' structural level lists sampled attributes: no claims
        assert result["faithful_caption_share"] == 1.0


def test_corpus_captions_are_checked_on_every_kind_of_claim(corpus):
    result = faithfulness_from_rows(corpus["caption"], corpus)
    assert CHECKED_KINDS <= set(result["by_kind"]), sorted(result["by_kind"])


def test_a_caption_moved_to_another_series_scores_low(corpus):
    for column in CAPTION_COLUMNS:
        moved = faithfulness_from_rows(list(np.roll(corpus[column], 1)), corpus)
        assert moved["true_claim_share"] < 0.3, (column, moved["true_claim_share"])
        assert moved["faithful_caption_share"] <= 0.05, (column, moved["faithful_caption_share"])


def _many_channel_series() -> tuple[np.ndarray, SeriesDescription]:
    """Nine channels (the summarised layout): random walks, a constant channel, gaps, a step and a cycle."""
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.standard_normal((9, 300)), axis=1)
    series[2] = 4.0
    series[3, 40:90] = np.nan
    series[4, 150:] += 60.0
    series[5] = 5 * np.sin(2 * np.pi * np.arange(300) / 24) + 0.1 * rng.standard_normal(300)
    info = SeriesDescription(
        [f"sensor {c}" for c in range(9)],
        ["V"] * 9,
        3600.0,
        domain="power monitoring",
        device="a substation logger",
        label="storm",
        start="2021-06-01T00:00:00",
    )
    return series.astype(np.float32), info


def _short_series() -> tuple[np.ndarray, SeriesDescription]:
    """Two channels of five steps, one of them never observed."""
    series = np.array([[1.0, 2.0, 4.0, 3.0, 2.5], [np.nan] * 5], dtype=np.float32)
    return series, SeriesDescription(["a", "b"], ["", ""], None)


def _level_shift_series() -> tuple[np.ndarray, SeriesDescription]:
    rng = np.random.default_rng(1)
    y = 0.2 * rng.standard_normal(400)
    y[220:] += 5.0
    y[90] += 9.0
    return y[None].astype(np.float32), SeriesDescription(["pressure"], ["kPa"], 0.01)


@pytest.mark.parametrize("make", [_many_channel_series, _short_series, _level_shift_series])
def test_captions_of_every_layout_are_true(make):
    series, info = make()
    metadata = SeriesMetadata(
        tuple(info.channel_names), tuple(info.units), info.domain, info.device, info.label or "", info.start
    )
    freq = freq_string(info.seconds_per_step)
    for seed in range(3):
        parts = describe_series(series, info, seed=seed)
        for caption in [*parts.values(), compose_caption(parts, CAPTION_LEVELS, seed=seed)]:
            result = check_caption(caption, series, freq, metadata)
            assert result.checked and result.faithful, [claim for claim in result.claims if not claim.true]


def test_layouts_exercise_their_own_claims():
    series, info = _many_channel_series()
    metadata = SeriesMetadata(tuple(info.channel_names), tuple(info.units), start=info.start)
    caption = compose_caption(describe_series(series, info, seed=0), CAPTION_LEVELS, seed=0)
    kinds = {claim.kind for claim in check_caption(caption, series, "h", metadata).claims}
    assert {
        "mean range",
        "max channel",
        "trend counts",
        "periodic channels",
        "start",
        "missing channels",
    } <= kinds
    series, info = _level_shift_series()
    caption = describe_series(series, info, seed=0)["structural"]
    result = check_caption(caption, series, "100Hz", SeriesMetadata(("pressure",), ("kPa",)))
    assert _verdicts(result, "level shift") == [True] and _verdicts(result, "spike") == [True]


def _two_channel_series() -> tuple[np.ndarray, SeriesMetadata]:
    """x rises steadily, y cycles once a second; 50 Hz, 10 s."""
    rng = np.random.default_rng(2)
    t = np.arange(500)
    x = 0.01 * t + 0.05 * rng.standard_normal(500)
    y = np.sin(2 * np.pi * t / 50) + 0.05 * rng.standard_normal(500)
    return np.stack([x, y]).astype(np.float32), SeriesMetadata(("x", "y"), ("g", "g"), "motion", "a phone")


def _stats_sentence(series: np.ndarray, c: int, name: str, max_value: float | None = None) -> str:
    """The third CHANNEL_STATS template filled in by hand from numpy's statistics of channel ``c``."""
    stat = channel_stats(series)[c]
    decimals = value_decimals(stat)
    return phrases.CHANNEL_STATS[2].format(
        name=name,
        unit=" g",
        mean=format_number(stat.mean, decimals),
        std=format_number(series[c].astype(np.float64).std(), 3),
        min=format_number(series[c].min(), decimals),
        max=format_number(series[c].max() if max_value is None else max_value, decimals),
        t_min=f"at {0.02 * series[c].argmin():.2f} s",
        t_max=f"at {0.02 * series[c].argmax():.2f} s",
    )


def test_hand_written_claims_are_checked():
    series, metadata = _two_channel_series()
    right = (
        "This is motion data from a phone. It has 2 channels: x (in g) and y (in g). It is sampled at 50 Hz. "
        "The recording has 2 channels and 500 steps (9.98 s). x rises overall at about 0.499 g per second. "
        "y shows no clear trend; it repeats with a period of about 1 s (cycle amplitude about 1.0 g). "
        + _stats_sentence(series, 0, "x")
    )
    result = check_caption(right, series, "50Hz", metadata)
    assert result.faithful and result.checked >= 16, [claim for claim in result.claims if not claim.true]


@pytest.mark.parametrize(
    "wrong, kind",
    [
        ("It has 3 channels: x (in g), y (in g) and z (in g).", "channel count"),
        ("It has 2 channels: x (in m/s) and y (in g).", "channel names"),
        ("The recording has 6 channels and 500 steps (9.98 s).", "channel count"),
        ("The recording has 2 channels and 128 steps (9.98 s).", "length"),
        ("It is sampled at 20 Hz.", "sampling rate"),
        ("One value is recorded every 0.1 s.", "sampling rate"),
        ("x falls overall at about 0.5 g per second.", "trend direction"),
        ("x shows no clear trend and shows no clear periodicity.", "trend direction"),
        ("y shows no clear trend; there is no clear periodicity.", "period"),
        (
            "y shows no clear trend; it repeats with a period of about 3 s (cycle amplitude about 1.0 g).",
            "period",
        ),
        ("This is human activity recognition data from a phone.", "domain"),
        ("acc_x shows no clear trend.", "channel"),
    ],
)
def test_hand_written_wrong_claims_are_caught(wrong, kind):
    series, metadata = _two_channel_series()
    verdicts = _verdicts(check_caption(wrong, series, "50Hz", metadata), kind)
    assert verdicts and not all(verdicts), (wrong, verdicts)


def test_a_wrong_maximum_is_caught_and_nothing_else():
    series, metadata = _two_channel_series()
    true_max = float(series[0].max())
    result = check_caption(
        _stats_sentence(series, 0, "x", max_value=true_max + 0.5), series, "50Hz", metadata
    )
    assert [claim.kind for claim in result.claims if claim.true is False] == ["max"]
    assert result.checked == 6 and result.true == 5


def test_numbers_are_read_at_the_captioners_precision():
    series, metadata = _two_channel_series()
    stat = channel_stats(series)[0]
    printed = format_number(stat.max, value_decimals(stat))
    sentence = _stats_sentence(series, 0, "x")
    for stated, true in ((printed + "0", True), (printed + "4", True), (printed[:-1], False)):
        result = check_caption(
            sentence.replace(f"maximum {printed} g", f"maximum {stated} g"), series, "50Hz", metadata
        )
        assert _verdicts(result, "max") == [true], (printed, stated)


def test_claims_the_series_cannot_settle_are_made_but_not_checked():
    series, _ = _two_channel_series()
    caption = (
        "This is motion data from a phone. It is sampled at 50 Hz. x rises overall at about 0.5 g per second."
    )
    result = check_caption(
        caption, series
    )  # no freq, no metadata: neither domain, device, rate nor x is known
    assert result.made == 4 and result.checked == 0 and not result.faithful


def test_metadata_from_a_corpus_row_reads_device_and_label_from_the_reference(corpus):
    row = next(
        row for row in corpus if row["source"] == "hapt_train" and "annotated" in row["caption_semantic"]
    )
    metadata = SeriesMetadata.from_row(row)
    assert metadata.device == HAPT_DEVICE and metadata.label and metadata.domain == row["domain"]


def test_identical_caption_share():
    assert caption_collapse(["a", "a ", "b", "c"]) == {"identical_caption_share": 0.5, "distinct_captions": 3}
    assert caption_collapse(["a"] * 5)["identical_caption_share"] == 1.0
    series = [np.zeros((1, 32))] * 4
    metrics = faithfulness_metrics(["x", "x", "x", "y"], series)
    assert metrics["identical_caption_share"] == 0.75 and metrics["distinct_captions"] == 2
    assert metrics["true_claim_share"] is None and metrics["faithful_caption_share"] == 0.0


def test_caption_metrics_reports_faithfulness_beside_the_text_metrics(corpus):
    pytest.importorskip("evaluate")
    from evaluation_slip.captioning import caption_metrics

    rows = corpus.select(range(6))
    plain = caption_metrics(rows["caption"], rows["caption"], metrics=())
    assert plain["identical_caption_share"] == pytest.approx(1 / 6) and "faithfulness" not in plain
    scored = caption_metrics([rows["caption"][0]] * 6, rows["caption"], metrics=(), rows=rows)
    assert scored["identical_caption_share"] == 1.0 and scored["distinct_captions"] == 1
    assert scored["true_claim_share"] < 0.6 and scored["faithful_caption_share"] == pytest.approx(1 / 6)
    assert len(scored["faithfulness"]["captions"]) == 6
