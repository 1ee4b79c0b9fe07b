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
    PatchPlan,
    SlipFeatureExtractor,
    TruncationWarning,
    choose_patch_size,
    parse_frequency,
)
from processing_slip.feature_extraction_slip import _MAX_TIMED_STEPS, _Group, _Sample, _validate_group

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


def test_channel_names_are_strings_like_pandas_columns():
    extractor = SlipFeatureExtractor(default_freq="50Hz")
    named = extractor(np.ones((3, 5)), channel_names=[1, 2, 3], return_normalization_stats=True)
    frame = extractor(pd.DataFrame(np.ones((5, 3)), columns=[1, 2, 3]), return_normalization_stats=True)
    assert named["channel_names"] == frame["channel_names"] == [["1", "2", "3"]]
    with pytest.raises(ValueError, match="mixes names and lists"):
        extractor([np.ones(5), np.ones(5)], channel_names=["a", ["b"]])


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


def test_time_zone_aware_index_sets_the_frequency():
    naive = pd.DatetimeIndex(pd.date_range("2024-03-30", periods=200, freq="15s").tolist())
    aware = naive.tz_localize("Europe/Berlin")
    assert aware.freq is None
    extractor = SlipFeatureExtractor()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = extractor(pd.DataFrame({"v": np.arange(200.0)}, index=aware))
    assert_same_features(got, extractor(np.arange(200.0), freq="15s"))


@pytest.mark.parametrize("freq", [np.array(0.02), np.float64(0.02), np.array("50Hz")])
def test_numpy_scalar_frequencies(freq):
    extractor = SlipFeatureExtractor()
    assert_same_features(extractor(np.ones((2, 300)), freq=freq), extractor(np.ones((2, 300)), freq=0.02))
    assert_same_features(
        extractor([np.ones(300), np.ones(300)], freq=[freq, freq]), extractor(np.ones((2, 1, 300)), freq=0.02)
    )


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
    (np.zeros((0, 2, 5)), r"shape \(0, 2, 5\) holds no samples; pass at least one sample"),
    (torch.zeros(0, 2, 5), "holds no samples"),
]

COMPLEX_INPUTS = {
    "numpy array": np.array([1 + 2j, 3.0]),
    "torch tensor": torch.ones(3, dtype=torch.complex64),
    "nested list": [[1 + 2j, 3.0]],
    "list of arrays": [np.ones(3), np.array([1 + 2j, 3.0, 4.0])],
    "pandas Series": pd.Series([1 + 2j, 3.0]),
    "DataFrame column": pd.DataFrame({"real": [1.0, 2.0], "z": [1 + 2j, 3.0]}),
    "list of DataFrames": [pd.DataFrame({"z": [1 + 2j, 3.0]})],
}


@pytest.mark.parametrize(("series", "message"), BAD_INPUTS)
def test_bad_series_raise_one_clear_error(series, message):
    with pytest.raises(ValueError, match=message):
        SlipFeatureExtractor(default_freq="1s")(series)


@pytest.mark.parametrize("series", COMPLEX_INPUTS.values(), ids=COMPLEX_INPUTS.keys())
def test_complex_input_is_rejected_in_every_form(series):
    with pytest.raises(ValueError, match=r"complex numbers are not accepted.*pass real values"):
        SlipFeatureExtractor(default_freq="1s")(series)


def test_complex_column_is_named():
    with pytest.raises(ValueError, match=r"sample 0, columns \['z'\]: complex"):
        SlipFeatureExtractor(default_freq="1s")(COMPLEX_INPUTS["DataFrame column"])


def test_masked_entries_are_missing_in_every_array_form():
    rng = np.random.default_rng(4)
    data = rng.normal(size=(2, 3, 40))
    hidden = rng.random(data.shape) < 0.3
    masked = np.ma.masked_array(np.where(hidden, 999.0, data), mask=hidden)
    extractor = SlipFeatureExtractor(default_freq="1s")
    reference = extractor(np.where(hidden, np.nan, data))
    assert_same_features(extractor(masked), reference)
    assert_same_features(extractor(list(masked)), reference)
    assert_same_features(extractor([list(sample) for sample in masked]), reference)
    single = extractor(np.where(hidden, np.nan, data)[0, 0])
    assert_same_features(extractor(masked[0, 0]), single)
    counts = np.ma.masked_array(np.arange(40), mask=hidden[0, 0])
    assert_same_features(extractor(counts), extractor(np.where(hidden[0, 0], np.nan, np.arange(40.0))))


def test_kept_window_without_observed_value_names_the_sample_and_the_cut():
    x = np.random.default_rng(5).normal(size=60_000)
    x[-50_000:] = np.nan
    extractor = SlipFeatureExtractor()
    with (
        pytest.warns(TruncationWarning),
        pytest.raises(
            ValueError,
            match=r"sample 0: the most recent 49152 of its 60000 steps.*missing \(NaN\).*Pass patch_size= or a larger "
            r"max_patches=",
        ),
    ):
        extractor(x, freq="100Hz")
    kept = extractor(x, freq="100Hz", patch_size=128)
    assert kept["sensor_mask"].sum() == 10_000


@pytest.mark.parametrize("normalization", ["mean_abs", "standard"])
@pytest.mark.parametrize("magnitude", [1e160, 1e306])
def test_huge_values_normalise_without_overflow(normalization, magnitude):
    rng = np.random.default_rng(6)
    unit = rng.normal(size=(2, 300))
    unit[0, 5] = np.nan
    extractor = SlipFeatureExtractor(normalization=normalization, default_freq="1s")
    huge = extractor(unit * magnitude, return_normalization_stats=True)
    small = extractor(unit)
    np.testing.assert_allclose(huge["sensor_values"], small["sensor_values"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(huge["sensor_mask"], small["sensor_mask"])
    restored = extractor.restore_values(huge)[0]
    np.testing.assert_allclose(restored, unit * magnitude, rtol=1e-5, atol=1e-5 * magnitude)


def test_values_too_large_to_normalise_name_sample_and_channel():
    x = np.array([[1.0, 2.0, 3.0], [1e308, -1.7e308, 1.6e308]])
    with pytest.raises(
        ValueError, match=r"sample 0, channel 1 holds values up to 1.7e\+308.*divide the series"
    ):
        SlipFeatureExtractor(normalization="standard", default_freq="1s")(x)
    near_float32_limit = np.array([3e38, 3e38, -3e38], dtype=np.float32)
    with pytest.raises(ValueError, match=r"sample 0, channel 0 holds values up to 3e\+38"):
        SlipFeatureExtractor(normalization="standard", default_freq="1s")(near_float32_limit)


@pytest.mark.parametrize("magnitude", [1e20, 1e39, 1e300])
def test_unnormalised_values_beyond_the_model_range_are_rejected(magnitude):
    x = [np.ones((2, 4)), np.ones((2, 4))]
    x[1][1, 2] = -magnitude
    with pytest.raises(
        ValueError, match=r"sample 1, channel 1 \('b'\) holds values up to .*use normalization="
    ):
        SlipFeatureExtractor(normalization="none", default_freq="1s")(x, channel_names=["a", "b"])


def test_infinite_value_in_the_kept_window_is_named_at_its_original_step():
    x = np.ones(60_000)
    x[-3] = np.inf
    with (
        pytest.warns(TruncationWarning),
        pytest.raises(ValueError, match="sample 0, channel 0 holds an infinite value at step 59997"),
    ):
        SlipFeatureExtractor()(x, freq="100Hz")


def _group(steps, patch_size=2):
    """One sample, one channel, two observed steps at `steps`, as `_validate_group` sees it."""
    return _Group(
        rows=np.array([0]),
        patch_size=patch_size,
        values=np.ones((1, 1, 2)),
        observed=np.ones((1, 1, 2), dtype=bool),
        steps=np.array([steps], dtype=np.float32),
        loc=np.zeros((1, 1)),
        scale=np.ones((1, 1)),
    )


def test_times_that_round_to_one_are_rejected():
    # A series long enough for this (2**25 steps) is too large for a unit test, so the check gets its group.
    assert np.float32(_MAX_TIMED_STEPS / (_MAX_TIMED_STEPS + 1)) < 1
    assert np.float32((_MAX_TIMED_STEPS + 1) / (_MAX_TIMED_STEPS + 2)) == 1
    length = _MAX_TIMED_STEPS + 1
    plan = PatchPlan(patch_size=2, num_patches=length // 2, kept_length=length, length=length)
    args = (2, [_Sample(np.ones((1, 2)))], [plan], "mean_abs")
    _validate_group(_group([0.5, _MAX_TIMED_STEPS / (_MAX_TIMED_STEPS + 1)]), *args)
    with pytest.raises(
        ValueError, match=rf"sample 0: its {length} steps get times outside \(0, 1\).*pass at most"
    ):
        _validate_group(_group([0.5, length / (length + 1)]), *args)
    with pytest.raises(ValueError, match="times outside"):
        _validate_group(_group([0.0, 0.5]), *args)
    with pytest.raises(ValueError, match=r"patch_size 3, outside 1..2; pass a patch_size between 1"):
        _validate_group(_group([0.5, 0.6], patch_size=3), *args)


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
