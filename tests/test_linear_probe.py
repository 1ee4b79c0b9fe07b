"""Linear probe: recovers separable classes, sits at chance on random labels, never sees test rows; feature
extraction keeps the caller's row order whatever the batching."""

import importlib
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from transformers import BatchFeature

from evaluation_slip.features import extract_patch_features, extract_sensor_embeddings, series_and_freqs
from evaluation_slip.linear_probe import (
    classification_metrics,
    held_out_probe_accuracy,
    linear_probe,
    train_val_split,
)

probe_module = importlib.import_module(
    "evaluation_slip.linear_probe"
)  # the package re-exports a same-named function


def _blobs(n: int, classes: int = 3, dims: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    features = rng.normal(size=(n, dims))
    features[:, 0] += 3.0 * labels
    features[:, 1] -= 2.0 * labels
    return features, labels


@pytest.mark.parametrize("classifier", ["logistic", "torch"])
def test_probe_recovers_separable_classes(classifier):
    features, labels = _blobs(600)
    result = linear_probe(
        features[:400],
        labels[:400],
        features[400:],
        labels[400:],
        classifier=classifier,
        seeds=(0, 1),
        lr=3e-2,
        max_epochs=40,
    )
    mean = {name: value for name, (value, _) in result.summary().items()}
    assert mean["accuracy"] > 0.9 and mean["balanced_accuracy"] > 0.9 and mean["macro_f1"] > 0.9
    assert len(result.seeds) == 2 and result.num_classes == 3
    summary = result.to_dict()
    assert set(summary["mean"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert summary["seeds"][0]["selected"] > 0


def test_probe_is_at_chance_on_random_labels():
    features, labels = _blobs(1500)
    shuffled = np.random.default_rng(1).permutation(labels[:1000])
    result = linear_probe(features[:1000], shuffled, features[1000:], labels[1000:], seeds=(0, 1, 2))
    accuracy, _ = result.summary()["accuracy"]
    assert abs(accuracy - 1 / 3) < 0.08


def test_held_out_accuracy_recovers_classes_and_sits_at_chance_on_shuffled_labels():
    features, labels = _blobs(400)
    scores = held_out_probe_accuracy(features, labels, num_splits=3)
    assert len(scores) == 3 and min(scores) > 0.9
    shuffled = np.random.default_rng(1).permutation(labels)
    assert abs(np.mean(held_out_probe_accuracy(features, shuffled, num_splits=3)) - 1 / 3) < 0.1
    subjects = np.repeat(np.arange(8), 50)
    assert len(held_out_probe_accuracy(features, labels, groups=subjects, num_splits=2)) == 2
    with pytest.raises(ValueError, match="num_splits"):
        held_out_probe_accuracy(features, labels, num_splits=0)


def test_selection_and_fitting_never_see_test_rows(monkeypatch):
    features, labels = _blobs(300)
    train, test = features[:200], features[200:] + 1000.0  # test rows are recognisable by their values
    groups = np.repeat(np.arange(10), 20)
    fitted, selected_on = [], []

    class SpyScaler(probe_module.StandardScaler):
        def fit(self, x, y=None, sample_weight=None):
            fitted.append(np.asarray(x))
            return super().fit(x, y, sample_weight)

    original_select = probe_module._LogisticProbe.select

    def spy_select(self, x_fit, y_fit, x_val, y_val, seed):
        selected_on.append((x_fit, x_val))
        return original_select(self, x_fit, y_fit, x_val, y_val, seed)

    monkeypatch.setattr(probe_module, "StandardScaler", SpyScaler)
    monkeypatch.setattr(probe_module._LogisticProbe, "select", spy_select)
    linear_probe(
        train, labels[:200], test, labels[200:], train_groups=groups, seeds=(0, 1), c_grid=(0.1, 1.0)
    )

    assert len(selected_on) == 2 and len(fitted) == 2 * (2 + 1)
    for x in fitted + [x for pair in selected_on for x in pair]:
        assert (np.abs(x) < 500).all(), "a test row reached model selection or fitting"
    for x_fit, x_val in selected_on:
        assert not {tuple(r) for r in x_fit} & {tuple(r) for r in x_val}


def test_grouped_split_keeps_subjects_apart():
    labels = np.tile([0, 1], 50)
    groups = np.repeat(np.arange(10), 10)
    for seed in range(3):
        fit_rows, val_rows = train_val_split(labels, groups, 0.2, seed)
        assert not set(groups[fit_rows]) & set(groups[val_rows])
        assert len(fit_rows) + len(val_rows) == 100
    with pytest.raises(ValueError, match="at least 5 subjects"):
        train_val_split(labels, np.repeat(np.arange(2), 50), 0.2, 0)


def test_probe_rejects_bad_input():
    features, labels = _blobs(100)
    with pytest.raises(ValueError, match="NaN or inf"):
        linear_probe(np.full((10, 2), np.nan), labels[:10], features[:5, :2], labels[:5])
    with pytest.raises(ValueError, match="never occur in train"):
        linear_probe(features[:50], np.zeros(50, int), features[50:], labels[50:])
    with pytest.raises(ValueError, match="classifier must be"):
        linear_probe(features[:50], labels[:50], features[50:], labels[50:], classifier="svm")


class _FakeProcessor:
    """Pads series to (B, C, 1, T): enough of the processor contract for the extraction code."""

    def __call__(self, series=None, freq=None, return_tensors=None, text=None, padding=None):
        channels = max(s.shape[0] for s in series)
        steps = max(s.shape[1] for s in series)
        values = torch.zeros(len(series), channels, 1, steps)
        mask = torch.zeros_like(values, dtype=torch.bool)
        for row, s in enumerate(series):
            values[row, : s.shape[0], 0, : s.shape[1]] = torch.from_numpy(np.nan_to_num(s))
            mask[row, : s.shape[0], 0, : s.shape[1]] = torch.from_numpy(~np.isnan(s))
        self.batch_sizes.append(len(series))
        self.freqs.extend(freq)
        return BatchFeature(
            {
                "sensor_values": values,
                "sensor_mask": mask,
                "sensor_time": torch.zeros_like(values),
                "patch_size": torch.full((len(series),), steps),
            }
        )

    def __init__(self):
        self.batch_sizes, self.freqs = [], []


class _FakeModel(torch.nn.Module):
    """Feature = (masked mean, observed count); it records whether it ran in eval mode."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.modes = []

    def get_mean_token_features(self, sensor_values, sensor_mask, sensor_time, patch_size):
        self.modes.append(self.training)
        count = sensor_mask.flatten(1).sum(1).float()
        return torch.stack(
            [self.scale * (sensor_values * sensor_mask).flatten(1).sum(1) / count, count], dim=1
        )

    def get_sensor_features(self, **inputs):
        return torch.nn.functional.normalize(self.get_mean_token_features(**inputs), dim=-1)


def test_extraction_keeps_order_and_batches_by_length():
    rng = np.random.default_rng(0)
    series = [
        rng.normal(loc=i, size=(2, length)).astype(np.float32) for i, length in enumerate([5, 40, 12, 40, 7])
    ]
    series[2][0, 3] = np.nan
    processor, model = _FakeProcessor(), _FakeModel()
    model.train()
    features = extract_patch_features(
        model, processor, series, freq="50Hz", batch_size=2, show_progress=False
    )
    unsorted = extract_patch_features(
        model, processor, series, freq="50Hz", batch_size=2, sort_by_length=False, show_progress=False
    )
    np.testing.assert_allclose(features, unsorted, rtol=1e-6)
    np.testing.assert_allclose(features[:, 0], [np.nanmean(s) for s in series], rtol=1e-5)
    np.testing.assert_array_equal(features[:, 1], [5 * 2, 80, 23, 80, 14])
    assert model.training and not any(model.modes), "extraction must run in eval mode and restore train mode"
    embeddings = extract_sensor_embeddings(model, processor, series, freq="50Hz", show_progress=False)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)


def test_extraction_reads_dataset_rows():
    datasets = pytest.importorskip("datasets")
    from hub_datasets.schema import classification_features

    rows = {
        "id": ["a", "b"],
        "series": [[[1.0, 2.0, 3.0]], [[4.0, 5.0, 6.0, 7.0]]],
        "channel_names": [["x"], ["x"]],
        "freq": ["50Hz", "10Hz"],
        "label": [0, 1],
        "subject": ["1", "2"],
        "source": ["test", "test"],
    }
    dataset = datasets.Dataset.from_dict(rows, features=classification_features(["sit", "walk"]))
    series, freqs = series_and_freqs(dataset)
    assert freqs == ["50Hz", "10Hz"] and [s.shape for s in series] == [(1, 3), (1, 4)]
    processor = _FakeProcessor()
    features = extract_patch_features(_FakeModel(), processor, dataset, show_progress=False)
    np.testing.assert_allclose(features[:, 0], [2.0, 5.5])
    assert sorted(processor.freqs) == ["10Hz", "50Hz"]
    with pytest.raises(ValueError, match="freq"):
        series_and_freqs([np.zeros((1, 4))])


def test_results_table_markdown_and_json(tmp_path):
    from evaluation_slip.report import ResultsTable

    features, labels = _blobs(300)
    probe = linear_probe(
        features[:200], labels[:200], features[200:], labels[200:], seeds=(0, 1), c_grid=(1.0,)
    )
    table = ResultsTable()
    table.add("UCI-HAR", "SLIP (tiny)", probe, note="cross-subject")
    table.add("UCI-HAR", "zero-shot", {"accuracy": 0.25, "num_sensors": 3})
    markdown = table.to_markdown()
    mean, std = probe.summary()["accuracy"]
    assert f"| UCI-HAR | SLIP (tiny) | {mean * 100:.2f} ± {std * 100:.2f} |" in markdown
    assert "| UCI-HAR | zero-shot | 25.00 | - | - |  |" in markdown
    table.save_json(tmp_path / "results.json")
    assert ResultsTable.load_json(tmp_path / "results.json").rows == table.rows
    with pytest.raises(ValueError, match="cannot report"):
        table.add("x", "y", [0.5])


def _layer_normed_encoder_features(n: int, dims: int = 128, classes: int = 6, seed: int = 0):
    """Features shaped like a LayerNorm-ed encoder's mean tokens on UCI-HAR: one dominant direction, the rest
    decaying over 7 decades of variance with weak class signal in every direction, and every row centred and
    scaled across its dims, so the columns are linearly dependent. Standardised, the matrix's condition number
    is about 1e8, as it is for the tiny model's features; lbfgs needs 650 to over 1,000 iterations at C = 10 on
    such matrices."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    std = 10.0 ** (-3.5 * np.arange(dims) / (dims - 1))
    std[0] = 5.0
    means = rng.normal(size=(classes, dims)) * np.sqrt(0.05) * std
    means[:, 0] *= 5.0
    components = means[labels] + rng.normal(size=(n, dims)) * std
    features = components @ np.linalg.qr(rng.normal(size=(dims, dims)))[0]
    features -= features.mean(axis=1, keepdims=True)
    return (features / features.std(axis=1, keepdims=True)).astype(np.float32), labels


def test_logistic_probe_converges_on_ill_conditioned_encoder_features():
    features, labels = _layer_normed_encoder_features(2500)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = linear_probe(
            features[:2000], labels[:2000], features[2000:], labels[2000:], seeds=(0,), c_grid=(1.0, 10.0)
        )
        fitted = probe_module._LogisticProbe((10.0,), probe_module.DEFAULT_MAX_ITER, "accuracy")._fit(
            features[:2000], labels[:2000], 10.0
        )
    assert result.summary()["accuracy"][0] > 0.6
    # half the budget unused: a feature set a little harder than this one still converges
    assert fitted[-1].n_iter_.max() < probe_module.DEFAULT_MAX_ITER / 2


def test_metrics_average_over_the_classes_present():
    """The true labels lack class 2, which is predicted twice: no warning, and class 2 is not averaged in."""
    y_true = np.array([0, 0, 0, 1, 1, 1])
    y_pred = np.array([0, 0, 2, 1, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = classification_metrics(y_true, y_pred)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["balanced_accuracy"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert metrics["macro_f1"] == pytest.approx(0.8)  # both classes: precision 1, recall 2/3
    everything_right = classification_metrics(y_true, y_true)
    assert everything_right == {"accuracy": 1.0, "balanced_accuracy": 1.0, "macro_f1": 1.0}
