"""Sleep-EDF Expanded, sleep-cassette study (Kemp et al. 2000): 30 s EEG epochs, 5 sleep stages.

Source: PhysioNet ``sleep-edfx/1.0.0/sleep-cassette``; each night is a ``*-PSG.edf`` recording and a
``*-Hypnogram.edf`` EDF+ annotation file, both read with ``pyedflib``. Channels: EEG Fpz-Cz and Pz-Oz at
100 Hz. Stages follow AASM: W, N1, N2, N3 (R&K stages 3 and 4 merged), REM; "Sleep stage ?" and
"Movement time" epochs have no stage and are not examples. As is usual for this study, the long
in-bed wake periods are cut to ``wake_margin_minutes`` (30) before the first and after the last sleep
epoch. Configs: ``sleep_edf_20`` (subjects 0-19, the common 39-night subset) and ``sleep_cassette``
(all 78 subjects, 153 nights). Split: subject-wise, 20 % of subjects held out for test (seed 0); both
nights of a subject stay in one split. Files are verified against their published SHA1 sums.
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import numpy as np

from ..schema import classification_features
from ._base import (
    DownstreamBuilder,
    SourceConfig,
    SourceFile,
    SourceFileError,
    import_reader,
    series_to_list,
    subject_split,
)
from ._sleep_edf_records import SLEEP_CASSETTE_RECORDS

BASE_URL = "https://physionet.org/files/sleep-edfx/1.0.0/sleep-cassette/"
CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz")
SAMPLING_RATE = 100
EPOCH_SECONDS = 30
LABELS = ("W", "N1", "N2", "N3", "REM")
STAGE_OF_ANNOTATION = {
    "Sleep stage W": "W",
    "Sleep stage 1": "N1",
    "Sleep stage 2": "N2",
    "Sleep stage 3": "N3",
    "Sleep stage 4": "N3",
    "Sleep stage R": "REM",
}
UNSCORED = {"Sleep stage ?", "Movement time"}

logger = datasets.logging.get_logger(__name__)

ZERO_SHOT_PROMPTS = {
    "W": ["EEG of a person awake", "brain activity during wakefulness"],
    "N1": ["EEG during light sleep stage N1", "brain activity while drifting into sleep"],
    "N2": ["EEG during sleep stage N2 with spindles", "brain activity in stable light sleep"],
    "N3": ["EEG during deep slow-wave sleep", "brain activity in deep sleep stage N3"],
    "REM": ["EEG during REM sleep", "brain activity during rapid eye movement sleep"],
}


class SleepEdfConfig(SourceConfig):
    """Which subjects to build from (None: all) and how much wake to keep around sleep."""

    def __init__(
        self, *args, subjects: Sequence[int] | None = None, wake_margin_minutes: float = 30.0, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.subjects = None if subjects is None else tuple(subjects)
        self.wake_margin_minutes = wake_margin_minutes


def hypnogram_epochs(onsets, durations, descriptions) -> list[tuple[int, str]]:
    """(epoch start in seconds, stage) for every scored 30 s epoch of an EDF+ hypnogram."""
    epochs = []
    for onset, duration, text in zip(onsets, durations, descriptions):
        if text in UNSCORED:
            continue
        if text not in STAGE_OF_ANNOTATION:
            raise ValueError(f"unexpected hypnogram annotation {text!r}")
        for k in range(int(round(duration)) // EPOCH_SECONDS):
            epochs.append((int(round(onset)) + k * EPOCH_SECONDS, STAGE_OF_ANNOTATION[text]))
    return epochs


def trim_wake(epochs: list[tuple[int, str]], margin_seconds: float) -> list[tuple[int, str]]:
    """Keep epochs from ``margin`` before the first to ``margin`` after the last non-wake epoch."""
    sleep = [start for start, stage in epochs if stage != "W"]
    if not sleep:
        return []
    return [e for e in epochs if sleep[0] - margin_seconds <= e[0] <= sleep[-1] + margin_seconds]


class SleepEdf(DownstreamBuilder):
    """30 s two-channel EEG epochs with AASM stages.

    Compared with the SLIP authors' release: theirs has 5 stages and a 33,599 / 8,709 train / test split;
    a third-party converter measured 2 EEG channels, 30 s windows and subjects on both sides of the split.
    Ours has 5 stages (N3 + N4 merged) from Fpz-Cz and Pz-Oz in 30 s epochs and holds out 20 % of subjects,
    so the test is subject-disjoint.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = SleepEdfConfig
    BUILDER_CONFIGS = [
        SleepEdfConfig(
            name="sleep_edf_20", subjects=tuple(range(20)), description="Subjects 0-19 (39 nights)."
        ),
        SleepEdfConfig(name="sleep_cassette", description="All 78 sleep-cassette subjects (153 nights)."),
    ]
    DEFAULT_CONFIG_NAME = "sleep_edf_20"

    def _records(self):
        """The configured nights; checked here because ``datasets`` sets config overrides by setattr."""
        known = {record[0] for record in SLEEP_CASSETTE_RECORDS}
        subjects = known if self.config.subjects is None else set(self.config.subjects)
        if unknown := sorted(subjects - known):
            raise ValueError(f"unknown sleep-cassette subjects {unknown}; pass numbers from {sorted(known)}")
        if self.config.wake_margin_minutes < 0:
            raise ValueError(f"wake_margin_minutes must be >= 0, got {self.config.wake_margin_minutes}")
        return [r for r in SLEEP_CASSETTE_RECORDS if r[0] in subjects]

    def source_files(self):
        files = []
        for _, _, psg, psg_sha1, hypnogram, hypnogram_sha1 in self._records():
            files.append(SourceFile(psg, BASE_URL + psg, psg_sha1, algorithm="sha1"))
            files.append(SourceFile(hypnogram, BASE_URL + hypnogram, hypnogram_sha1, algorithm="sha1"))
        return files

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(LABELS),
            homepage="https://physionet.org/content/sleep-edfx/1.0.0/",
            citation="Kemp et al., Analysis of a sleep-dependent neuronal feedback loop, IEEE TBME 2000.",
            license="ODC-By 1.0",
        )

    def _split_generators(self, dl_manager):
        paths = self.fetch_sources(dl_manager)
        records = self._records()
        test_subjects = subject_split([str(r[0]) for r in records], test_fraction=0.2)
        nights = {
            "train": [
                (r[0], r[1], paths[r[2]], paths[r[4]]) for r in records if str(r[0]) not in test_subjects
            ],
            "test": [(r[0], r[1], paths[r[2]], paths[r[4]]) for r in records if str(r[0]) in test_subjects],
        }
        return [datasets.SplitGenerator(name=split, gen_kwargs={"nights": nights[split]}) for split in nights]

    def _generate_examples(self, nights):
        samples = EPOCH_SECONDS * SAMPLING_RATE
        beyond_signal = 0
        for subject, night, psg_path, hypnogram_path in nights:
            eeg = self._read_eeg(psg_path)
            with import_reader("pyedflib").EdfReader(str(hypnogram_path)) as reader:
                epochs = hypnogram_epochs(*reader.readAnnotations())
            epochs = trim_wake(epochs, 60 * self.config.wake_margin_minutes)
            for start, stage in epochs:
                begin = start * SAMPLING_RATE
                if begin + samples > eeg.shape[1]:
                    beyond_signal += 1  # some hypnograms run past the end of their recording
                    continue
                key = f"{subject}-{night}-{start}"
                yield (
                    key,
                    {
                        "id": f"sleep_edf-SC4{subject:02d}{night}-{start:06d}",
                        "series": series_to_list(eeg[:, begin : begin + samples]),
                        "channel_names": [name.removeprefix("EEG ") for name in CHANNELS],
                        "freq": f"{SAMPLING_RATE}Hz",
                        "label": LABELS.index(stage),
                        "subject": str(subject),
                        "source": "sleep_edf",
                    },
                )
        logger.info(f"Sleep-EDF: {beyond_signal} scored epochs lie beyond the end of their recording")

    @staticmethod
    def _read_eeg(path) -> np.ndarray:
        with import_reader("pyedflib").EdfReader(str(path)) as reader:
            labels = reader.getSignalLabels()
            rows = []
            for channel in CHANNELS:
                if channel not in labels:
                    raise SourceFileError(f"{path.name}: channel {channel!r} missing; found {labels}")
                index = labels.index(channel)
                if reader.getSampleFrequency(index) != SAMPLING_RATE:
                    raise SourceFileError(
                        f"{path.name}: {channel} sampled at {reader.getSampleFrequency(index)} Hz, expected {SAMPLING_RATE}"
                    )
                rows.append(reader.readSignal(index))
        return np.stack(rows)
