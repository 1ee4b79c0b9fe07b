"""StudentLife (Wang et al. 2014): minute-level phone sensing before each stress self-report, 3 levels.

Source: ``dataset.tar.bz2`` (Dartmouth). Streams, from ``dataset/sensing/<stream>/<stream>_u<k>.csv``:
``activity`` and ``audio`` (inferences every few seconds while the duty-cycled sensor is on: activity
0 stationary / 1 walking / 2 running / 3 unknown; audio 0 silence / 1 voice / 2 noise / 3 unknown), and
the interval streams ``conversation``, ``dark``, ``phonelock`` and ``phonecharge`` (start, end in Unix
seconds). Each becomes one channel at 1 minute: activity and audio as the minute's most frequent known
inference (NaN when the sensor was off or only "unknown"), the interval streams as 1 when an interval
covers part of the minute, else 0. Label: the stress EMA (``dataset/EMA/response/Stress/Stress_u<k>.json``,
"Right now, I am ..."; 1 a little stressed, 2 definitely stressed, 3 stressed out, 4 feeling good,
5 feeling great) mapped to 3 levels: not stressed (4, 5), a little stressed (1), stressed (2, 3);
responses without a level are not examples. One example is the ``window_minutes`` (240) before a
response. The paper's exact stream list and level mapping are not stated in our sources; these are
ours. Split: subject-wise, 20 % of students held out for test (seed 0). No checksum is published; the
whole bzip2 stream is read through to catch truncation.
"""

from __future__ import annotations

import json
import re
import tarfile

import datasets
import numpy as np
import pandas as pd

from ..schema import classification_features
from ._base import DownstreamBuilder, SourceConfig, SourceFile, SourceFileError, series_to_list, subject_split

ARCHIVE = SourceFile(
    name="dataset.tar.bz2", url="https://studentlife.cs.dartmouth.edu/dataset/dataset.tar.bz2"
)
INFERENCE_STREAMS = ("activity", "audio")
INTERVAL_STREAMS = ("conversation", "dark", "phonelock", "phonecharge")
STREAMS = INFERENCE_STREAMS + INTERVAL_STREAMS
UNKNOWN_INFERENCE = 3
LABELS = ("not_stressed", "a_little_stressed", "stressed")
LEVEL_CLASS = {4: "not_stressed", 5: "not_stressed", 1: "a_little_stressed", 2: "stressed", 3: "stressed"}
_MEMBER = re.compile(r"(?:^|/)sensing/(\w+)/\1_(u\d+)\.csv$")
_EMA = re.compile(r"(?:^|/)EMA/response/Stress/Stress_(u\d+)\.json$")

ZERO_SHOT_PROMPTS = {
    "not_stressed": ["phone sensing of a relaxed student who feels good", "a student who is not stressed"],
    "a_little_stressed": ["phone sensing of a student who is a little stressed", "a mildly stressed student"],
    "stressed": ["phone sensing of a student who is stressed out", "a highly stressed student"],
}


class StudentLifeConfig(SourceConfig):
    def __init__(self, *args, window_minutes: int = 240, **kwargs):
        super().__init__(*args, **kwargs)
        self.window_minutes = window_minutes


def inference_per_minute(frame: pd.DataFrame) -> pd.Series:
    """Most frequent known inference per minute (ties: the smaller code), indexed by Unix minute."""
    known = frame[frame.iloc[:, 1] != UNKNOWN_INFERENCE]
    minutes = known.iloc[:, 0] // 60
    return known.iloc[:, 1].groupby(minutes).agg(lambda values: values.mode().min()).astype(np.float32)


def intervals_per_minute(frame: pd.DataFrame) -> list[tuple[int, int]]:
    """(first minute, last minute) covered by each interval."""
    return [(int(start) // 60, int(end) // 60) for start, end in frame.iloc[:, :2].itertuples(index=False)]


def stress_responses(data: bytes, member: str) -> list[tuple[int, str]]:
    """(response minute, class) of every answered stress EMA."""
    try:
        entries = json.loads(data)
    except json.JSONDecodeError as error:
        raise SourceFileError(f"{ARCHIVE.name}: {member} is not JSON ({error})") from error
    responses = []
    for entry in entries:
        level = entry.get("level")
        if level is None or "resp_time" not in entry:
            continue
        if int(level) not in LEVEL_CLASS:
            raise SourceFileError(f"{ARCHIVE.name}: {member} has stress level {level!r}; expected 1-5")
        responses.append((int(entry["resp_time"]) // 60, LEVEL_CLASS[int(level)]))
    return responses


def read_students(path) -> dict[str, dict]:
    """One pass over the archive: per student, each stream aggregated to minutes and the EMA responses."""
    students: dict[str, dict] = {}
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if not member.isfile():
                continue
            if match := _MEMBER.search(member.name):
                stream, user = match.groups()
                if stream not in STREAMS:
                    continue
                frame = pd.read_csv(archive.extractfile(member), skipinitialspace=True)
                if frame.shape[1] < 2:
                    raise SourceFileError(
                        f"{ARCHIVE.name}: {member.name} needs two columns, has {frame.shape[1]}"
                    )
                aggregate = inference_per_minute if stream in INFERENCE_STREAMS else intervals_per_minute
                students.setdefault(user, {})[stream] = aggregate(frame)
            elif match := _EMA.search(member.name):
                data = archive.extractfile(member).read()
                students.setdefault(match.group(1), {})["ema"] = stress_responses(data, member.name)
    return {user: streams for user, streams in students.items() if streams.get("ema")}


def minute_window(streams: dict, end_minute: int, length: int) -> np.ndarray:
    """(len(STREAMS), length) channels over the ``length`` minutes before ``end_minute``."""
    minutes = np.arange(end_minute - length, end_minute)
    rows = []
    for stream in STREAMS:
        data = streams.get(stream)
        if stream in INFERENCE_STREAMS:
            values = pd.Series(np.nan, index=minutes) if data is None else data.reindex(minutes)
            rows.append(values.to_numpy(dtype=np.float32))
        else:
            row = np.zeros(length, dtype=np.float32)
            for first, last in data or ():
                row[max(first - minutes[0], 0) : max(min(last - minutes[0] + 1, length), 0)] = 1.0
            rows.append(row)
    return np.stack(rows)


class StudentLife(DownstreamBuilder):
    """Minute-level sensing windows before stress self-reports.

    Compared with the SLIP authors' release: theirs has 3 stress levels and a 1,074 / 109 train / test
    split; a third-party converter measured 10 minute-level streams and 24 h windows. Ours has 3 levels from
    the stress EMA, 6 streams and the 4 h before each answer. The stream list and level mapping are ours,
    and this card documents them.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = StudentLifeConfig

    def source_files(self):
        return [ARCHIVE]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(LABELS),
            homepage="https://studentlife.cs.dartmouth.edu/dataset.html",
            citation="Wang et al., StudentLife: Assessing Mental Health, Academic Performance and Behavioral "
            "Trends of College Students using Smartphones, UbiComp 2014.",
        )

    def _split_generators(self, dl_manager):
        if self.config.window_minutes <= 0:
            raise ValueError(f"window_minutes must be positive, got {self.config.window_minutes}")
        students = read_students(self.fetch_sources(dl_manager)[ARCHIVE.name])
        if not students:
            raise SourceFileError(f"{ARCHIVE.name}: no student has both sensing files and stress responses")
        test_users = subject_split(students, test_fraction=0.2)
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "students": {u: s for u, s in students.items() if (u in test_users) == (split == "test")}
                },
            )
            for split in ("train", "test")
        ]

    def _generate_examples(self, students):
        for user, streams in sorted(students.items()):
            for index, (minute, label) in enumerate(streams["ema"]):
                yield (
                    f"{user}-{index}",
                    {
                        "id": f"studentlife-{user}-{index:04d}",
                        "series": series_to_list(minute_window(streams, minute, self.config.window_minutes)),
                        "channel_names": list(STREAMS),
                        "freq": "1min",
                        "label": LABELS.index(label),
                        "subject": user,
                        "source": "studentlife",
                    },
                )
