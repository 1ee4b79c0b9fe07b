import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from modeling_slip.sensor_inputs import SENSOR_INPUT_KEYS, validate_sensor_inputs
from processing_slip import (
    DefaultFrequencyWarning,
    SlipFeatureExtractor,
    TruncationWarning,
    choose_patch_size,
    parse_frequency,
)

FREQS = ["50Hz", "0.5s", "1min", "15min", "h", "D", "W"]


def assert_same_features(a, b):
    for key in SENSOR_INPUT_KEYS:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)


@st.composite
def batches(draw):
    """A list of (C, L) float arrays with NaN holes (each sample keeps an observed value) and a freq each."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    samples, freqs = [], []
    for _ in range(draw(st.integers(1, 4))):
        channels, length = draw(st.integers(1, 4)), draw(st.integers(1, 300))
        values = rng.normal(draw(st.floats(-5, 5)), draw(st.floats(0.01, 100)), size=(channels, length))
        values[rng.random((channels, length)) < draw(st.sampled_from([0.0, 0.1, 0.5, 0.95]))] = np.nan
        if np.isnan(values).all():
            values[rng.integers(channels), rng.integers(length)] = rng.normal()
        samples.append(values)
        freqs.append(draw(st.sampled_from(FREQS)))
    return samples, freqs


@settings(deadline=None, max_examples=50, derandomize=True)
@given(batch=batches(), normalization=st.sampled_from(["mean_abs", "standard", "none"]))
def test_observed_values_round_trip_and_layout_follows_policy(batch, normalization):
    samples, freqs = batch
    extractor = SlipFeatureExtractor(normalization=normalization)
    features = extractor(samples, freq=freqs, return_normalization_stats=True)
    values, mask, time, sizes = (features[key] for key in SENSOR_INPUT_KEYS)

    expected_sizes = [choose_patch_size(s.shape[1], parse_frequency(f)) for s, f in zip(samples, freqs)]
    assert sizes.tolist() == expected_sizes
    assert values.shape == (
        len(samples),
        max(s.shape[0] for s in samples),
        max(math.ceil(s.shape[1] / p) for s, p in zip(samples, expected_sizes)),
        max(expected_sizes),
    )
    for b, (sample, size) in enumerate(zip(samples, expected_sizes)):
        channels, length = sample.shape
        assert (
            not mask[b, :, :, size:].any()
            and not values[b, :, :, size:].any()
            and not time[b, :, :, size:].any()
        )
        assert not mask[b, channels:].any() and not time[b, channels:].any()
        flat_mask = mask[b, :channels, :, :size].reshape(channels, -1)
        flat_time = time[b, :channels, :, :size].reshape(channels, -1)
        pad = flat_mask.shape[1] - length
        np.testing.assert_array_equal(flat_mask[:, pad:], ~np.isnan(sample))
        assert not flat_mask[:, :pad].any() and not flat_time[:, :pad].any()
        np.testing.assert_allclose(
            flat_time[:, pad:],
            np.broadcast_to(np.arange(1, length + 1) / (length + 1), sample.shape),
            rtol=1e-6,
        )
    assert not values[~mask].any()

    restored = extractor.restore_values(features)
    for original, back in zip(samples, restored):
        assert back.shape == original.shape
        np.testing.assert_array_equal(np.isnan(back), np.isnan(original))
        observed = ~np.isnan(original)
        np.testing.assert_allclose(
            back[observed], original[observed], rtol=1e-6, atol=1e-6 * np.abs(original[observed]).max()
        )

    validate_sensor_inputs(*(torch.as_tensor(features[key]) for key in SENSOR_INPUT_KEYS), max_patch_size=128)


def test_reference_mean_abs_scaling():
    x = np.array([[1.0, -3.0, np.nan, 4.0]])
    features = SlipFeatureExtractor()(x, freq="1s", patch_size=4)
    np.testing.assert_allclose(
        features["sensor_values"][0, 0, 0], [1.0, -3.0, 0.0, 4.0] / np.float64(8 / 3 + 1e-6), rtol=1e-6
    )


def test_standard_and_no_scaling():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 3.0, size=(2, 500))
    standard = SlipFeatureExtractor(normalization="standard")(x, freq="50Hz", return_normalization_stats=True)
    scaled = standard["sensor_values"][0][standard["sensor_mask"][0]].reshape(2, -1)
    np.testing.assert_allclose(scaled.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(standard["sensor_loc"][0], x.mean(axis=1))
    raw = SlipFeatureExtractor(normalization="none")(x, freq="50Hz")
    np.testing.assert_allclose(raw["sensor_values"][0][raw["sensor_mask"][0]].reshape(2, -1), x, rtol=1e-6)


def test_all_input_forms_give_the_same_tensors():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(2, 3, 50))
    data[0, 1, :7] = np.nan
    extractor = SlipFeatureExtractor()
    reference = extractor(data, freq="1min")
    index = pd.date_range("2024-01-01", periods=50, freq="1min")
    frames = [pd.DataFrame(sample.T, index=index, columns=["a", "b", "c"]) for sample in data]
    forms = {
        "list of (C, L) arrays": list(data),
        "tuple of arrays": tuple(data),
        "torch tensor": torch.from_numpy(data),
        "float32 torch tensor": torch.from_numpy(data).float(),
        "list of tensors": [torch.from_numpy(sample) for sample in data],
        "nested lists": data.tolist(),
        "list of DataFrames": frames,
    }
    for name, series in forms.items():
        freq = None if name == "list of DataFrames" else "1min"
        got = extractor(series, freq=freq)
        if name.startswith("float32"):
            for key in SENSOR_INPUT_KEYS:
                np.testing.assert_allclose(got[key], reference[key], rtol=1e-6, err_msg=name)
        else:
            assert_same_features(got, reference)

    single = extractor(data[0], freq="1min")
    assert_same_features(single, extractor(data[:1], freq="1min"))
    assert_same_features(extractor(frames[0]), single)
    univariate = extractor(data[0, 0], freq="50Hz")
    assert_same_features(univariate, extractor(data[0, :1], freq="50Hz"))
    assert_same_features(extractor(pd.Series(data[0, 0]), freq="50Hz"), univariate)
    assert_same_features(extractor(data[0, 0].tolist(), freq="50Hz"), univariate)
    assert_same_features(
        extractor([data[0, 0], data[1, 0]], freq="50Hz"), extractor(data[:, :1], freq="50Hz")
    )


def test_variable_lengths_and_channels_are_padded():
    rng = np.random.default_rng(2)
    short, long = rng.normal(size=(1, 10)), rng.normal(size=(3, 200))
    features = SlipFeatureExtractor()([short, long], freq="50Hz", patch_size=[4, 8], return_tensors="pt")
    assert features["sensor_values"].shape == (2, 3, 25, 8)
    assert features["patch_size"].tolist() == [4, 8]
    assert features["sensor_mask"][0].sum() == 10 and features["sensor_mask"][1].sum() == 600
    assert features["sensor_mask"][0, 0, -3:, :4].flatten().tolist() == [False, False] + [True] * 10
    assert features["sensor_values"].dtype == torch.float32 and features["sensor_mask"].dtype == torch.bool
    assert features["patch_size"].dtype == torch.int64
    assert set(features) == set(SENSOR_INPUT_KEYS)


def test_channel_names_are_kept():
    extractor = SlipFeatureExtractor(default_freq="50Hz")
    frame = pd.DataFrame({"acc_x": [1.0, 2.0], "acc_y": [3.0, 4.0]})
    assert extractor(frame, return_normalization_stats=True)["channel_names"] == [["acc_x", "acc_y"]]
    named = extractor(np.ones((2, 2, 5)), channel_names=["x", "y"], return_normalization_stats=True)
    assert named["channel_names"] == [["x", "y"], ["x", "y"]]
    per_sample = extractor(
        [np.ones(5), np.ones((2, 5))], channel_names=[["hr"], ["x", "y"]], return_normalization_stats=True
    )
    assert per_sample["channel_names"] == [["hr"], ["x", "y"]]


def test_datetime_index_sets_the_frequency():
    frame = pd.DataFrame(
        {"v": np.arange(1440.0)}, index=pd.date_range("2024-01-01", periods=1440, freq="1min")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SlipFeatureExtractor()(frame)["patch_size"].tolist() == [24]
        assert SlipFeatureExtractor()(frame, freq="50Hz")["patch_size"].tolist() == [25]


def test_default_frequency_is_reported_once_per_call():
    with pytest.warns(DefaultFrequencyWarning) as record:
        SlipFeatureExtractor()(np.ones((3, 1, 10)))
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SlipFeatureExtractor(default_freq="50Hz")(np.ones(10))


def test_long_series_is_cut_with_a_warning():
    series = np.arange(60_000.0)
    extractor = SlipFeatureExtractor(normalization="none")
    with pytest.warns(
        TruncationWarning, match=r"sample 1: 60000 steps.*most recent 49152.*oldest 10848.*patch_size="
    ):
        features = extractor([np.ones(10), series], freq="50Hz", return_normalization_stats=True)
    assert features["sensor_values"].shape[2:] == (384, 128)
    np.testing.assert_array_equal(extractor.restore_values(features)[1][0], series[-49152:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = extractor(series, freq="50Hz", patch_size=128)
    assert kept["sensor_mask"].sum() == 60_000


def test_save_and_load(tmp_path):
    extractor = SlipFeatureExtractor(
        normalization="standard", target_patches=32, max_patches=None, default_freq="1min"
    )
    extractor.save_pretrained(tmp_path)
    loaded = SlipFeatureExtractor.from_pretrained(tmp_path)
    assert loaded.to_dict() == extractor.to_dict()
    x = np.random.default_rng(3).normal(size=(2, 100))
    assert_same_features(loaded(x), extractor(x))


BAD_INPUTS = [
    (np.array([]), "sample 0 is empty"),
    ([], "empty list"),
    (np.zeros((0, 10)), "zero channels"),
    (pd.DataFrame(index=range(5)), "zero channels"),
    (np.zeros((2, 2, 2, 2)), "4 dimensions"),
    (np.array(1.0), "0 dimensions"),
    (3.0, "not supported"),
    ([[1.0, 2.0, 3.0], [1.0, 2.0]], "different lengths"),
    ("abc", "not supported"),
    (["a", "b"], "real numbers"),
    (np.array(["1", "2"]), "real numbers"),
    ([np.zeros((1, 2, 3))], "sample 0 has shape"),
    (pd.DataFrame({"time": ["a", "b"], "v": [1.0, 2.0]}), r"columns \['time'\] are not numeric"),
    ([np.ones(5), np.full(5, np.nan)], "sample 1 has no observed value"),
    ({"x": [1.0]}, "not supported"),
    (torch.ones(3, dtype=torch.complex64), "complex"),
]


@pytest.mark.parametrize(("series", "message"), BAD_INPUTS)
def test_bad_series_raise_one_clear_error(series, message):
    with pytest.raises(ValueError, match=message):
        SlipFeatureExtractor(default_freq="1s")(series)


def test_infinite_values_name_sample_and_channel():
    x = [np.ones((2, 5)), np.ones((3, 5))]
    x[1][2, 3] = -np.inf
    with pytest.raises(ValueError, match=r"sample 1, channel 2 \('c'\) holds an infinite value at step 3"):
        SlipFeatureExtractor(default_freq="1s")(x, channel_names=[["a", "b"], ["a", "b", "c"]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(freq=["1s"]), "freq has 1 entries but the batch has 2"),
        (dict(freq="fortnightly"), "Unknown frequency"),
        (dict(patch_size=[4, 8, 16]), "patch_size has 3 entries"),
        (dict(patch_size=512), "exceeds max_patch_size"),
        (dict(channel_names=["a", "b"]), "1 channels but 2 channel_names"),
        (dict(channel_names=[["a"]]), "channel_names has 1 entries"),
        (dict(channel_names="a"), "list of names"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SlipFeatureExtractor(default_freq="1s")(np.ones((2, 1, 8)), **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [dict(normalization="minmax"), dict(default_freq="often"), dict(max_patch_size=0), dict(eps=0.0)],
)
def test_bad_init_raises(kwargs):
    with pytest.raises(ValueError):
        SlipFeatureExtractor(**kwargs)


def test_restore_needs_stats():
    features = SlipFeatureExtractor(default_freq="1s")(np.ones(5))
    with pytest.raises(ValueError, match="return_normalization_stats=True"):
        SlipFeatureExtractor().restore_values(features)
