"""Baselines: statistical features are right and informative, PatchTST trains, random init re-draws weights."""

import numpy as np
import pytest
import torch
from scipy import stats
from transformers import PatchTSTConfig, PatchTSTForClassification

from evaluation_slip.baselines import (
    patchtst_baseline,
    random_init_like,
    statistical_baseline,
    statistical_feature_names,
    statistical_features,
)


def _two_class_series(n: int, seed: int, length: int = 64):
    """Class 0: slow sine; class 1: fast sine; random phase and noise; a second pure-noise channel."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    steps = np.arange(length)
    series = [
        np.stack(
            [
                np.sin(2 * np.pi * (0.03 + 0.2 * label) * steps + rng.uniform(0, 2 * np.pi))
                + rng.normal(0, 0.5, length),
                rng.normal(size=length),
            ]
        ).astype(np.float32)
        for label in labels
    ]
    return series, labels


def test_statistical_features_match_reference_formulas():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(4, 3, 40)).astype(np.float32)
    series[0, 0, 5] = np.nan
    series[1, 1] = np.nan
    series[2, 2] = 7.0
    features = statistical_features(list(series)).reshape(4, 3, -1)
    names = [name.split("/")[1] for name in statistical_feature_names(1)]
    column = {name: index for index, name in enumerate(names)}
    observed = series[0, 0][~np.isnan(series[0, 0])].astype(np.float64)
    expected = {
        "mean": observed.mean(),
        "std": observed.std(),
        "min": observed.min(),
        "max": observed.max(),
        "q25": np.quantile(observed, 0.25),
        "q90": np.quantile(observed, 0.9),
        "skew": stats.skew(observed),
        "kurtosis": stats.kurtosis(observed),
        "observed_fraction": 39 / 40,
    }
    for name, value in expected.items():
        assert features[0, 0, column[name]] == pytest.approx(value, rel=1e-6), name
    full = series[3, 0].astype(np.float64) - series[3, 0].mean()
    assert features[3, 0, column["acf_lag1"]] == pytest.approx((full[1:] * full[:-1]).sum() / (full**2).sum())
    bands = [column[f"band{b}_energy"] for b in range(4)]
    assert features[3, 0, bands].sum() == pytest.approx(1.0)
    assert (features[1, 1] == 0).all(), "an unobserved channel gives zeros (observed_fraction 0)"
    assert features[2, 2, column["mean"]] == 7.0 and features[2, 2, column["skew"]] == 0.0
    assert np.isfinite(features).all()
    with pytest.raises(ValueError, match="one channel count"):
        statistical_features([np.zeros((2, 10)), np.zeros((3, 10))])


def test_statistical_baseline_beats_chance():
    train, train_labels = _two_class_series(120, seed=0)
    test, test_labels = _two_class_series(60, seed=1)
    result = statistical_baseline(train, train_labels, test, test_labels, seeds=(0, 1))
    assert result.method == "statistical_features/logistic"
    assert result.summary()["accuracy"][0] > 0.9


def test_patchtst_baseline_trains_and_beats_chance():
    train, train_labels = _two_class_series(160, seed=2)
    test, test_labels = _two_class_series(60, seed=3)
    train[0][1, :10] = np.nan  # NaN steps are passed as unobserved, not as numbers
    result = patchtst_baseline(
        train,
        train_labels,
        test,
        test_labels,
        seeds=(0,),
        max_epochs=6,
        patience=6,
        d_model=16,
        batch_size=16,
        show_progress=False,
    )
    assert result.method == "patchtst/supervised" and 1 <= result.seeds[0].selected <= 6
    assert result.summary()["accuracy"][0] > 0.75
    with pytest.raises(ValueError, match="longer than the longest training series"):
        patchtst_baseline(train, train_labels, [np.zeros((2, 80), np.float32)], [0], seeds=(0,), max_epochs=1)


def test_random_init_like_redraws_weights_only():
    config = PatchTSTConfig(
        num_input_channels=2,
        context_length=32,
        patch_length=8,
        patch_stride=8,
        d_model=16,
        num_hidden_layers=1,
        num_targets=2,
    )
    model = PatchTSTForClassification(config).to(torch.float64).train()
    before = torch.get_rng_state()
    fresh = random_init_like(model, seed=1)
    assert torch.equal(before, torch.get_rng_state()), "the global RNG must not move"
    assert type(fresh) is type(model) and fresh.config.to_dict() == model.config.to_dict()
    assert not fresh.training and next(fresh.parameters()).dtype == torch.float64
    pairs = list(zip(model.state_dict().values(), fresh.state_dict().values()))
    assert any(not torch.equal(a, b) for a, b in pairs)
    again = random_init_like(model, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), again.state_dict().values()))
