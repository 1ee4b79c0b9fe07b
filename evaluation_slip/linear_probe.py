"""Linear probing on frozen features, with model selection that never looks at the test set.

Per seed: split TRAIN into fit / validation (stratified, or subject-grouped when subjects are given), pick
the hyper-parameter (inverse regularisation C for logistic regression, the epoch count for the torch linear
classifier) on validation, refit on all of TRAIN with it, and score TEST once. Standardisation is fitted on
the rows the classifier is fitted on. Five seeds give mean +- std. The reference code picked the best test
epoch instead; this module exists so that cannot happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
DEFAULT_C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
CLASSIFIERS = ("logistic", "torch")
LOGISTIC_SOLVER = "newton-cg"
"""Newton steps with conjugate-gradient inner solves. A LayerNorm-ed encoder's features are linearly dependent
(the final norm centres every row across its dims), so even standardised they are ill-conditioned (condition
number 4e7 to 7e7 on UCI-HAR), and lbfgs's first-order steps crawl: at C = 10 it stopped unconverged after
1,000 iterations on the tiny model's UCI-HAR features, trained or random-init. newton-cg converges in at most 23 iterations at every C
of `DEFAULT_C_GRID` on all four evaluation sets (those two encoders and the statistical features). It never
forms the Hessian, so its memory stays linear in the feature width (newton-cholesky's grows with the square of
width x classes)."""
DEFAULT_MAX_ITER = 100
"""newton-cg's iteration budget: over four times the most an evaluation-set fit needed (23), so a harder
feature set still converges; a fit that runs out says so with a ConvergenceWarning."""


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro-F1; the last two average over the classes present in `y_true`.

    A class with no true row (a test or validation split missing a rare class) has no recall to average, so
    it is left out rather than scored 0: predicting it still counts as a miss of the row's true class. Mean
    recall over the present classes is exactly `balanced_accuracy_score`, and macro-F1 averages the same
    classes.
    """
    present = np.unique(np.asarray(y_true))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(
            recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }


def train_val_split(
    labels: np.ndarray, groups: np.ndarray | None, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (fit, val) of one seeded split of the training rows.

    With `groups` (subjects), no group is on both sides (StratifiedGroupKFold, first fold as validation),
    so selection measures cross-subject transfer like the test split does; else a stratified shuffle split.
    """
    if not 0.0 < val_fraction < 0.5:
        raise ValueError(f"val_fraction must lie in (0, 0.5), got {val_fraction}.")
    rows = np.arange(len(labels))
    if groups is None:
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
        try:
            return next(splitter.split(rows, labels))
        except ValueError as error:
            raise ValueError(
                f"cannot stratify a validation split of the training rows: {error} "
                "Every class needs at least 2 training rows."
            ) from error
    n_splits = max(2, round(1.0 / val_fraction))
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise ValueError(
            f"subject-grouped validation needs at least {n_splits} subjects for val_fraction={val_fraction}, "
            f"got {n_groups}; pass a larger val_fraction or groups=None."
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fit_rows, val_rows = next(splitter.split(rows, labels, groups))
    return fit_rows, val_rows


class _LogisticProbe:
    """Standardisation + multinomial logistic regression (`LOGISTIC_SOLVER`); the hyper-parameter is C."""

    name = "logistic"

    def __init__(self, c_grid: Sequence[float], max_iter: int, selection_metric: str):
        self.c_grid = tuple(c_grid)
        self.max_iter = max_iter
        self.selection_metric = selection_metric

    def _fit(self, features: np.ndarray, labels: np.ndarray, c: float) -> Pipeline:
        """The scaler is fitted with the classifier on the same rows, so held-out rows never shape either."""
        classifier = LogisticRegression(C=c, solver=LOGISTIC_SOLVER, max_iter=self.max_iter)
        return make_pipeline(StandardScaler(), classifier).fit(features, labels)

    def select(
        self, x_fit: np.ndarray, y_fit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, seed: int
    ) -> float:
        scores = [
            classification_metrics(y_val, self._fit(x_fit, y_fit, c).predict(x_val))[self.selection_metric]
            for c in self.c_grid
        ]
        return float(self.c_grid[int(np.argmax(scores))])

    def fit_predict(self, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, c: float, seed: int):
        return self._fit(x_train, y_train, c).predict(x_test)


class _TorchLinearProbe:
    """A linear layer trained with AdamW on standardised features; the hyper-parameter is the epoch count."""

    name = "torch"

    def __init__(
        self, max_epochs: int, lr: float, weight_decay: float, batch_size: int, selection_metric: str
    ):
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.selection_metric = selection_metric

    def _train(self, features: np.ndarray, labels: np.ndarray, epochs: int, seed: int, evaluate=None):
        scaler = StandardScaler().fit(features)
        classes = np.unique(labels)
        x = torch.as_tensor(scaler.transform(features), dtype=torch.float32)
        y = torch.as_tensor(np.searchsorted(classes, labels))
        generator = torch.Generator().manual_seed(seed)
        layer = torch.nn.Linear(x.shape[1], len(classes))
        with torch.no_grad():
            layer.weight.normal_(0.0, 0.01, generator=generator)
            layer.bias.zero_()
        optimizer = torch.optim.AdamW(layer.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        history = []
        for _ in range(epochs):
            for batch in torch.randperm(len(x), generator=generator).split(self.batch_size):
                loss = torch.nn.functional.cross_entropy(layer(x[batch]), y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            if evaluate is not None:
                history.append(evaluate(lambda test: self._predict(layer, scaler, classes, test)))
        return layer, scaler, classes, history

    @staticmethod
    @torch.no_grad()
    def _predict(layer: torch.nn.Linear, scaler: StandardScaler, classes: np.ndarray, features: np.ndarray):
        logits = layer(torch.as_tensor(scaler.transform(features), dtype=torch.float32))
        return classes[logits.argmax(dim=1).numpy()]

    def select(
        self, x_fit: np.ndarray, y_fit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, seed: int
    ) -> int:
        def score(predict):
            return classification_metrics(y_val, predict(x_val))[self.selection_metric]

        *_, history = self._train(x_fit, y_fit, self.max_epochs, seed, evaluate=score)
        return int(np.argmax(history)) + 1

    def fit_predict(
        self, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, epochs: int, seed: int
    ):
        layer, scaler, classes, _ = self._train(x_train, y_train, int(epochs), seed)
        return self._predict(layer, scaler, classes, x_test)


@dataclass
class SeedResult:
    """One seed: the hyper-parameter chosen on validation and the test metrics of the refitted classifier."""

    seed: int
    selected: float
    metrics: dict[str, float]


@dataclass
class ProbeResult:
    """Test metrics of a probe over several seeds; `summary()` gives mean and std per metric."""

    method: str
    hyperparameter: str
    seeds: list[SeedResult] = field(default_factory=list)
    num_train: int = 0
    num_test: int = 0
    num_classes: int = 0

    def summary(self) -> dict[str, tuple[float, float]]:
        """metric -> (mean, population std) over seeds."""
        names = self.seeds[0].metrics if self.seeds else ()
        return {
            name: (
                float(np.mean([s.metrics[name] for s in self.seeds])),
                float(np.std([s.metrics[name] for s in self.seeds])),
            )
            for name in names
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"] = {name: mean for name, (mean, _) in self.summary().items()}
        data["std"] = {name: std for name, (_, std) in self.summary().items()}
        return data


def _check_features(name: str, features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2:
        raise ValueError(f"{name} features must be 2-D (rows, dims), got shape {features.shape}.")
    if labels.shape != (len(features),):
        raise ValueError(
            f"{name} labels must be 1-D with one label per row ({len(features)}), got {labels.shape}."
        )
    if not np.isfinite(features).all():
        raise ValueError(f"{name} features contain NaN or inf; impute them or fix the feature extractor.")
    return features, labels


def linear_probe(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    *,
    train_groups: Any = None,
    classifier: str = "logistic",
    seeds: Sequence[int] = DEFAULT_SEEDS,
    val_fraction: float = 0.2,
    selection_metric: str = "accuracy",
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    max_iter: int = DEFAULT_MAX_ITER,
    max_epochs: int = 100,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    batch_size: int = 256,
    method: str | None = None,
) -> ProbeResult:
    """Fit a linear classifier on frozen train features and score it on test features, once per seed.

    classifier="logistic": multinomial logistic regression, C chosen from `c_grid`. classifier="torch": a
    linear layer trained with AdamW, the epoch count (<= `max_epochs`) chosen on validation. `train_groups`
    (e.g. subjects) makes the validation split subject-disjoint. The seed varies the validation split (and
    the torch initialisation); the logistic fit itself is deterministic, so seeds that pick the same C score
    the same. `max_iter` is the logistic solver's budget (`DEFAULT_MAX_ITER`).
    """
    x_train, y_train = _check_features("train", train_features, train_labels)
    x_test, y_test = _check_features("test", test_features, test_labels)
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"train and test features differ in width: {x_train.shape[1]} vs {x_test.shape[1]}.")
    unseen = sorted(set(np.unique(y_test).tolist()) - set(np.unique(y_train).tolist()))
    if unseen:
        raise ValueError(f"test labels {unseen} never occur in train; a linear probe cannot predict them.")
    if selection_metric not in METRICS:
        raise ValueError(f"selection_metric must be one of {METRICS}, got {selection_metric!r}.")
    groups = None if train_groups is None else np.asarray(train_groups)
    if groups is not None and groups.shape != y_train.shape:
        raise ValueError(
            f"train_groups must have one entry per train row ({len(y_train)}), got {groups.shape}."
        )
    if not seeds:
        raise ValueError("pass at least one seed.")
    if classifier == "logistic":
        probe: Any = _LogisticProbe(c_grid, max_iter, selection_metric)
        hyperparameter = "C"
    elif classifier == "torch":
        probe = _TorchLinearProbe(max_epochs, lr, weight_decay, batch_size, selection_metric)
        hyperparameter = "epochs"
    else:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}.")

    result = ProbeResult(
        method=method or f"linear_probe/{classifier}",
        hyperparameter=hyperparameter,
        num_train=len(y_train),
        num_test=len(y_test),
        num_classes=len(np.unique(y_train)),
    )
    for seed in seeds:
        fit_rows, val_rows = train_val_split(y_train, groups, val_fraction, seed)
        selected = probe.select(
            x_train[fit_rows], y_train[fit_rows], x_train[val_rows], y_train[val_rows], seed
        )
        predictions = probe.fit_predict(x_train, y_train, x_test, selected, seed)
        result.seeds.append(SeedResult(seed, float(selected), classification_metrics(y_test, predictions)))
    return result


def held_out_probe_accuracy(
    features: Any,
    labels: Any,
    *,
    groups: Any = None,
    num_splits: int = 5,
    held_out_fraction: float = 0.25,
    first_seed: int = 100,
    **probe_kwargs: Any,
) -> list[float]:
    """Accuracy of `linear_probe` fitted on part of a training set and scored on the rest, once per split.

    For choosing pretraining settings without the test split: each split holds out `held_out_fraction` of the
    rows (subject-disjoint with `groups`), and the probe selects its own hyper-parameter inside the fitted part.
    """
    x, y = _check_features("train", features, labels)
    groups = None if groups is None else np.asarray(groups)
    if num_splits < 1:
        raise ValueError(f"num_splits must be at least 1, got {num_splits}.")
    scores = []
    for split in range(num_splits):
        fit, held = train_val_split(y, groups, held_out_fraction, first_seed + split)
        result = linear_probe(
            x[fit],
            y[fit],
            x[held],
            y[held],
            train_groups=None if groups is None else groups[fit],
            seeds=(0,),
            **probe_kwargs,
        )
        scores.append(result.summary()["accuracy"][0])
    return scores
