"""WESAD (Schmidt et al. 2018): wearable stress and affect detection, neutral / amusement / stress.

Source: ``WESAD.zip``; each subject's ``WESAD/S<k>/S<k>.pkl`` is a Python 2 pickle of
``{"signal": {"chest": {...}, "wrist": {...}}, "label": (N,), "subject": "S<k>"}`` with numpy arrays.
Pickles can run code or, through numpy, misread memory, so they are read with :class:`RestrictedUnpickler`,
which resolves only numpy's array/dtype/scalar reconstructors and checks every dtype and array state
(`hub_datasets.safe_pickle`). Labels (700 Hz) 1 baseline -> neutral, 2 stress, 3 amusement; the other
protocol phases (0, 4-7) are not examples. Configs: ``chest`` (RespiBAN at 700 Hz: ACC x/y/z, ECG, EMG,
EDA, Temp, Resp) and ``wrist`` (Empatica E4: ACC x/y/z at 32 Hz, BVP 64 Hz, EDA and TEMP 4 Hz, all brought to
32 Hz with polyphase resampling so one series has one rate). Windows: ``window_seconds`` (60) every
``step_seconds`` (60) inside each run of one label. Split: subject-wise, 20 % of the 15 subjects held out for
test (seed 0). The archive is distributed through a sciebo share without a published checksum; it is
verified by its zip CRCs and, after the first download, by the SHA-256 recorded then (trust on first use).
"""

from __future__ import annotations

import re
import zipfile
from fractions import Fraction
from typing import IO

import datasets
import numpy as np
from scipy.signal import resample_poly

from ..safe_pickle import NumpyUnpickler
from ..schema import classification_features
from ._base import (
    DownstreamBuilder,
    SourceConfig,
    SourceFile,
    SourceFileError,
    series_to_list,
    subject_split,
    window_starts,
)

ARCHIVE = SourceFile(name="WESAD.zip", url="https://uni-siegen.sciebo.de/s/HGdUkoNlW1Ub0Gx/download")
LABELS = ("neutral", "amusement", "stress")
STUDY_LABELS = {1: "neutral", 2: "stress", 3: "amusement"}
LABEL_RATE = 700
CHEST = (  # signal key -> channel names; all at 700 Hz
    ("ACC", ("acc_x", "acc_y", "acc_z")),
    ("ECG", ("ecg",)),
    ("EMG", ("emg",)),
    ("EDA", ("eda",)),
    ("Temp", ("temp",)),
    ("Resp", ("resp",)),
)
WRIST_RATES = {"ACC": 32, "BVP": 64, "EDA": 4, "TEMP": 4}
WRIST = (("ACC", ("acc_x", "acc_y", "acc_z")), ("BVP", ("bvp",)), ("EDA", ("eda",)), ("TEMP", ("temp",)))
WRIST_RATE = 32

ZERO_SHOT_PROMPTS = {
    "neutral": ["physiological signals of a person at rest", "a calm, neutral baseline state"],
    "amusement": ["physiological signals of a person watching funny videos", "a person who is amused"],
    "stress": [
        "physiological signals of a person under stress",
        "a person during a stressful public speaking task",
    ],
}


RestrictedUnpickler = NumpyUnpickler
"""The subject files' unpickler: numeric numpy arrays in plain containers; anything else is refused."""


def load_subject(stream: IO[bytes], member: str) -> dict:
    """A subject pickle (Python 2, latin1 strings) through the restricted unpickler."""
    try:
        record = RestrictedUnpickler(stream, encoding="latin1").load()
    except MemoryError as error:
        raise SourceFileError(
            f"{ARCHIVE.name}: {member} asks for more memory than is available; if it is the published file, "
            "read it on a machine with more memory, else download the archive again"
        ) from error
    # A corrupt or hostile stream fails in arbitrary ways (IndexError, OverflowError, ...).
    except Exception as error:
        raise SourceFileError(f"{ARCHIVE.name}: {member} is not a readable WESAD pickle ({error})") from error
    _check_record(record, member)
    return record


def _check_record(record: object, member: str) -> None:
    """The layout the builder reads: signal -> device -> name -> array, and a label array."""
    if not isinstance(record, dict) or not {"signal", "label"} <= set(record):
        raise SourceFileError(f"{ARCHIVE.name}: {member} lacks the 'signal' and 'label' entries")
    devices = record["signal"]
    if not isinstance(devices, dict) or not all(
        isinstance(signals, dict) and all(isinstance(values, np.ndarray) for values in signals.values())
        for signals in devices.values()
    ):
        raise SourceFileError(f"{ARCHIVE.name}: {member}'s 'signal' is not a dict of devices holding arrays")
    if not isinstance(record["label"], np.ndarray):
        raise SourceFileError(f"{ARCHIVE.name}: {member}'s 'label' is not an array")


def label_runs(labels: np.ndarray) -> list[tuple[str, int, int]]:
    """(class, first second, end second) of each run of one studied label, in whole seconds."""
    labels = np.asarray(labels).reshape(-1)
    edges = np.flatnonzero(np.diff(labels)) + 1
    runs = []
    for start, stop in zip(np.r_[0, edges], np.r_[edges, len(labels)]):
        label = int(labels[start])
        if label in STUDY_LABELS:
            first, end = -(-start // LABEL_RATE), stop // LABEL_RATE
            if end > first:
                runs.append((STUDY_LABELS[label], int(first), int(end)))
    return runs


class WesadConfig(SourceConfig):
    def __init__(self, *args, window_seconds: int = 60, step_seconds: int = 60, **kwargs):
        super().__init__(*args, **kwargs)
        self.window_seconds = window_seconds
        self.step_seconds = step_seconds


class Wesad(DownstreamBuilder):
    """Chest or wrist windows labelled neutral / amusement / stress.

    Compared with the SLIP authors' release: theirs has 3 classes and an 882 / 223 train / test split; a
    third-party converter measured 13 channels of 3,000 steps. Ours has 3 classes in 60 s windows from a chest
    (8 channels) or a wrist (6) config, so that each series has one rate, and holds subjects out, so the test
    is subject-disjoint.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = WesadConfig
    BUILDER_CONFIGS = [
        WesadConfig(name="chest", description="RespiBAN chest signals at 700 Hz."),
        WesadConfig(name="wrist", description="Empatica E4 wrist signals resampled to 32 Hz."),
    ]
    DEFAULT_CONFIG_NAME = "chest"

    def source_files(self):
        return [ARCHIVE]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(LABELS),
            homepage="https://archive.ics.uci.edu/dataset/465",
            citation="Schmidt et al., Introducing WESAD, a Multimodal Dataset for Wearable Stress and Affect Detection, ICMI 2018.",
        )

    def _split_generators(self, dl_manager):
        if self.config.window_seconds <= 0 or self.config.step_seconds <= 0:
            raise ValueError(
                f"window_seconds and step_seconds must be positive, got {self.config.window_seconds}, "
                f"{self.config.step_seconds}"
            )
        archive = self.fetch_sources(dl_manager)[ARCHIVE.name]
        pattern = re.compile(r"(?:^|/)(S\d+)/\1\.pkl$")
        with zipfile.ZipFile(archive) as handle:
            members = {m.group(1): name for name in handle.namelist() if (m := pattern.search(name))}
        if not members:
            raise SourceFileError(f"{ARCHIVE.name}: no WESAD/S<k>/S<k>.pkl members")
        test_subjects = subject_split(members, test_fraction=0.2)
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "archive": archive,
                    "members": sorted(
                        m for s, m in members.items() if (s in test_subjects) == (split == "test")
                    ),
                },
            )
            for split in ("train", "test")
        ]

    def _signals(self, record: dict, member: str) -> tuple[np.ndarray, int, list[str]]:
        """(C, T) array at one rate, that rate, channel names."""
        device = record["signal"].get(self.config.name)
        if device is None:
            raise SourceFileError(f"{ARCHIVE.name}: {member} has no {self.config.name} signals")
        rows, names = [], []
        for key, channel_names in CHEST if self.config.name == "chest" else WRIST:
            if key not in device:
                raise SourceFileError(f"{ARCHIVE.name}: {member} lacks {self.config.name} signal {key!r}")
            values = np.asarray(device[key], dtype=np.float64).reshape(len(device[key]), -1).T
            if self.config.name == "wrist" and WRIST_RATES[key] != WRIST_RATE:
                ratio = Fraction(WRIST_RATE, WRIST_RATES[key])
                values = resample_poly(values, ratio.numerator, ratio.denominator, axis=1)
            rows.append(values)
            names.extend(channel_names)
        # Resampled wrist channels can end a sample apart; align them on their common span.
        length = min(row.shape[1] for row in rows)
        rate = LABEL_RATE if self.config.name == "chest" else WRIST_RATE
        return np.concatenate([row[:, :length] for row in rows]), rate, names

    def _generate_examples(self, archive, members):
        window, step = self.config.window_seconds, self.config.step_seconds
        with zipfile.ZipFile(archive) as handle:
            for member in members:
                with handle.open(member) as stream:
                    record = load_subject(stream, member)
                subject = str(record.get("subject", member.rsplit("/", 1)[-1][:-4]))
                series, rate, names = self._signals(record, member)
                seconds_available = series.shape[1] // rate
                for label, first, end in label_runs(record["label"]):
                    for offset in window_starts(min(end, seconds_available) - first, window, step):
                        begin = (first + offset) * rate
                        yield (
                            f"{subject}-{first + offset}",
                            {
                                "id": f"wesad_{self.config.name}-{subject}-{first + offset:05d}",
                                "series": series_to_list(series[:, begin : begin + window * rate]),
                                "channel_names": names,
                                "freq": f"{rate}Hz",
                                "label": LABELS.index(label),
                                "subject": subject,
                                "source": f"wesad_{self.config.name}",
                            },
                        )
