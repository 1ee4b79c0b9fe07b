"""Property-based fuzz of the feature extractor: every input either gives a batch that meets the data contract
and runs through the model, or raises a ValueError / TypeError that says what to pass instead.

Inputs come in every accepted form (numpy 1-D / 2-D / 3-D, ragged lists, nested lists, torch, masked arrays,
pandas with and without a DatetimeIndex) with NaN, inf, huge and tiny magnitudes, constant channels and
length-1 series, and with valid and invalid `freq`, `patch_size` and `max_patches`. Examples are few and small
so that the whole run, one tiny model included, stays near 20 s.
"""

from __future__ import annotations

import datetime
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeling_slip import SlipConfig, SlipModel
from modeling_slip.sensor_inputs import MAX_ABS_VALUE, SENSOR_INPUT_KEYS
from processing_slip import (
    DefaultFrequencyWarning,
    IrregularSamplingWarning,
    SlipFeatureExtractor,
    TruncationWarning,
)

MAGNITUDES = [1.0, 1e-300, 1e-30, 1e20, 1e39, 1e160, 1e300]
VALID_FREQS = [
    None,
    "50Hz",
    "1min",
    "D",
    "MS",
    "15T",
    0.02,
    60,
    np.array(0.5),
    np.float32(2.0),
    pd.Timedelta("1s"),
    datetime.timedelta(hours=1),
    pd.DateOffset(months=1),
    pd.offsets.Hour(2),
]
INVALID_FREQS = [
    "-5min",
    "-1D",
    "-50Hz",
    0,
    -1,
    float("nan"),
    10**400,
    "bogus",
    pd.DateOffset(month=1),
    np.array([1.0, 2.0]),
    True,
]
VALID_PATCH_SIZES = [None, None, None, 1, 4, 16, 128]
INVALID_PATCH_SIZES = [0, 129, 4.0, "4"]
MAX_PATCHES = [None, 1, 3, 384]
FORMS = ["1d", "2d", "3d", "torch", "list", "nested", "masked", "masked list", "series", "frames"]
INDEXES = ["none", "naive", "aware", "irregular"]
FIX = re.compile(
    r"\bpass\b|\buse\b|\bdrop\b|\breplace\b|\brescale\b|\bdivide\b|\bsort\b|freq=|patch_size|max_patches|"
    r"channel_names|normalization",
    re.IGNORECASE,
)
EXPECTED_WARNINGS = (TruncationWarning, DefaultFrequencyWarning, IrregularSamplingWarning)


@dataclass
class Case:
    """One fuzz input: what is passed, and the (C, L) float64 values it stands for (NaN = missing)."""

    series: Any
    expected: list[np.ndarray]
    call: dict[str, Any] = field(default_factory=dict)
    init: dict[str, Any] = field(default_factory=dict)


@st.composite
def sample_values(draw: st.DrawFn, channels: int, length: int) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.normal(size=(channels, length)) * draw(st.sampled_from(MAGNITUDES))
    if draw(st.booleans()):
        values[rng.integers(channels)] = draw(st.sampled_from([0.0, 1.0, -3e300]))
    values[rng.random(values.shape) < draw(st.sampled_from([0.0, 0.0, 0.0, 0.3, 0.3, 1.0]))] = np.nan
    if draw(st.integers(0, 9)) == 0:
        values[rng.integers(channels), rng.integers(length)] = draw(st.sampled_from([np.inf, -np.inf]))
    return values


def as_float32(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return values.astype(np.float32)


def time_index(kind: str, length: int) -> pd.Index:
    stamps = pd.date_range("2024-03-30 22:00", periods=length, freq="20min")
    if kind == "naive":
        return stamps
    if kind == "aware":
        return pd.DatetimeIndex(stamps.tz_localize("UTC").tz_convert("Europe/Berlin").tolist())
    if kind == "irregular":
        return pd.DatetimeIndex(
            stamps.tolist()[: length // 2] + (stamps[length // 2 :] + pd.Timedelta("7min")).tolist()
        )
    return pd.RangeIndex(length)


def with_index(values: np.ndarray, kind: str) -> pd.DataFrame:
    return pd.DataFrame(values.T, index=time_index(kind, values.shape[1]), columns=list("abc")[: len(values)])


def build(form: str, samples: list[np.ndarray], index: str, single: bool) -> tuple[Any, list[np.ndarray]]:
    """`samples` in `form`, and the float64 values the extractor should see."""
    if form == "1d":
        return samples[0][0], [samples[0][:1]]
    if form == "2d":
        return samples[0], samples[:1]
    if form == "3d":
        stacked = np.stack(samples)
        series = as_float32(stacked) if single else stacked
        return series, [sample.astype(np.float64) for sample in series]
    if form == "torch":
        tensor = torch.from_numpy(as_float32(np.stack(samples)) if single else np.stack(samples))
        return tensor, [sample.numpy().astype(np.float64) for sample in tensor]
    if form == "list":
        return list(samples), samples
    if form == "nested":
        return [sample.tolist() for sample in samples], samples
    if form in ("masked", "masked list"):
        hidden = [np.ma.masked_array(np.where(np.isnan(s), 999.0, s), mask=np.isnan(s)) for s in samples]
        return (np.ma.stack(hidden) if form == "masked" else hidden), samples
    if form == "series":
        return pd.Series(samples[0][0], index=time_index(index, samples[0].shape[1])), [samples[0][:1]]
    return [with_index(sample, index) for sample in samples], samples


def mostly(valid: list[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    """A valid option about four times in five, so that most examples reach the model."""
    return st.sampled_from(valid * 4 + invalid)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    form = draw(st.sampled_from(FORMS))
    equal_shapes = form in ("3d", "torch", "masked", "nested")
    batch = 1 if form in ("1d", "2d", "series") else draw(st.integers(1, 3))
    channels, length = draw(st.integers(1, 3)), draw(st.sampled_from([1, 2, 7, 40, 300]))
    samples = []
    for _ in range(batch):
        if not equal_shapes:
            channels, length = draw(st.integers(1, 3)), draw(st.sampled_from([1, 2, 7, 40, 300]))
        samples.append(draw(sample_values(channels, length)))
    series, expected = build(form, samples, draw(st.sampled_from(INDEXES)), draw(st.booleans()))
    call = {
        "freq": draw(mostly(VALID_FREQS, INVALID_FREQS)),
        "patch_size": draw(mostly(VALID_PATCH_SIZES, INVALID_PATCH_SIZES)),
    }
    init = {
        "normalization": draw(st.sampled_from(["mean_abs", "standard", "none"])),
        "max_patches": draw(st.sampled_from(MAX_PATCHES)),
    }
    return Case(series, expected, call, init)


@pytest.fixture(scope="module")
def model() -> SlipModel:
    return SlipModel(SlipConfig.from_preset("tiny")).eval()


def check_contract(features: dict[str, np.ndarray], expected: list[np.ndarray]) -> None:
    """The data contract (modeling_slip/sensor_inputs.py), and that every kept, non-missing input value is observed."""
    values, mask, time, sizes = (np.asarray(features[key]) for key in SENSOR_INPUT_KEYS)
    assert (values.dtype, mask.dtype, time.dtype, sizes.dtype) == (np.float32, bool, np.float32, np.int64)
    assert values.shape == mask.shape == time.shape and values.shape[0] == len(expected) == len(sizes)
    assert ((sizes >= 1) & (sizes <= values.shape[-1])).all()
    assert np.isfinite(values).all() and (np.abs(values) <= MAX_ABS_VALUE).all() and not values[~mask].any()
    assert ((time > 0) & (time < 1))[mask].all() and ((time >= 0) & (time < 1)).all()
    for b, (original, size) in enumerate(zip(expected, sizes)):
        assert mask[b].any() and not mask[b, :, :, size:].any() and not time[b, :, :, size:].any()
        kept = int(np.count_nonzero(time[b, 0]))
        observed = mask[b, : len(original)].reshape(len(original), -1).sum(axis=1)
        np.testing.assert_array_equal(observed, (~np.isnan(original[:, -kept:])).sum(axis=1))
        assert not mask[b, len(original) :].any() and not time[b, len(original) :].any()


def run_case(case: Case, model: SlipModel) -> str:
    """ "accepted" or "rejected"; fails on anything else the extractor or the model does."""
    extractor = SlipFeatureExtractor(**case.init)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            features = extractor(case.series, **case.call)
        except (ValueError, TypeError) as error:
            assert FIX.search(str(error)), f"{type(error).__name__} does not say what to pass: {error}"
            return "rejected"
    unexpected = [w for w in caught if not issubclass(w.category, EXPECTED_WARNINGS)]
    assert not unexpected, [str(w.message) for w in unexpected]
    check_contract(features, case.expected)
    with torch.no_grad():
        embeddings = model.get_sensor_features(
            **{key: torch.as_tensor(features[key]) for key in SENSOR_INPUT_KEYS}
        )
    assert torch.isfinite(embeddings).all()
    return "accepted"


def test_any_input_gives_a_valid_batch_or_says_what_to_pass(model):
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=800,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=cases())
    def fuzz(case: Case) -> None:
        outcomes[run_case(case, model)] += 1

    fuzz()
    assert outcomes["accepted"] >= 30 and outcomes["rejected"] >= 30, outcomes
