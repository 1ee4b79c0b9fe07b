"""WISDM smartphone and smartwatch activity dataset (Weiss 2019): 3-axis accelerometer, 18 activities.

Source: ``wisdm-dataset.zip`` (UCI 507). Raw files ``wisdm-dataset/raw/{phone,watch}/accel/
data_<subject>_accel_<device>.txt`` hold lines ``subject,activity code,timestamp (ns),x,y,z;`` at 20 Hz
(m/s^2); the activity codes A-S (no N) are named in ``activity_key.txt``. Configs ``phone`` and
``watch``. Windows: 10 s (200 samples) without overlap, cut inside each contiguous run of one activity;
a run's tail shorter than a window is not an example. Split: subject-wise, 20 % of the 51 subjects
held out for test (seed 0). UCI publishes no checksum; the archive is verified by its zip CRCs.
"""

from __future__ import annotations

import re
import zipfile

import datasets
import numpy as np
import pandas as pd

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

ARCHIVE = SourceFile(
    name="wisdm-dataset.zip",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00507/wisdm-dataset.zip",
)
SAMPLING_RATE = 20
WINDOW = 10 * SAMPLING_RATE
CODES = "ABCDEFGHIJKLMOPQRS"
LABELS = (
    "walking",
    "jogging",
    "stairs",
    "sitting",
    "standing",
    "typing",
    "teeth",
    "soup",
    "chips",
    "pasta",
    "drinking",
    "sandwich",
    "kicking",
    "catch",
    "dribbling",
    "writing",
    "clapping",
    "folding",
)
COLUMNS = ("subject", "activity", "timestamp", "x", "y", "z")

_DESCRIPTIONS = {
    "walking": "walking",
    "jogging": "jogging",
    "stairs": "climbing stairs",
    "sitting": "sitting",
    "standing": "standing",
    "typing": "typing",
    "teeth": "brushing teeth",
    "soup": "eating soup",
    "chips": "eating chips",
    "pasta": "eating pasta",
    "drinking": "drinking from a cup",
    "sandwich": "eating a sandwich",
    "kicking": "kicking a soccer ball",
    "catch": "playing catch with a tennis ball",
    "dribbling": "dribbling a basketball",
    "writing": "writing",
    "clapping": "clapping",
    "folding": "folding clothes",
}
ZERO_SHOT_PROMPTS = {
    label: [f"accelerometer data of a person {text}", f"motion recorded while {text}"]
    for label, text in _DESCRIPTIONS.items()
}


def read_raw(handle, member: str) -> pd.DataFrame:
    """One raw file; each line ends with ';', which pandas leaves on the z value."""
    frame = pd.read_csv(handle, header=None, names=list(COLUMNS), dtype={"activity": str, "z": str})
    try:
        frame["z"] = pd.to_numeric(frame["z"].str.strip().str.rstrip(";"))
        frame[["x", "y"]] = frame[["x", "y"]].astype(np.float32)
    except ValueError as error:
        raise SourceFileError(f"{ARCHIVE.name}: {member} has a non-numeric sample ({error})") from error
    unknown = sorted(set(frame["activity"]) - set(CODES))
    if unknown:
        raise SourceFileError(f"{ARCHIVE.name}: {member} has unknown activity codes {unknown}")
    return frame


def activity_windows(frame: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """(activity code, (3, WINDOW) array) for every full window inside each contiguous activity run."""
    run_id = (frame["activity"] != frame["activity"].shift()).cumsum()
    windows = []
    for _, run in frame.groupby(run_id, sort=False):
        values = run[["x", "y", "z"]].to_numpy(dtype=np.float32).T
        for start in window_starts(values.shape[1], WINDOW, WINDOW):
            windows.append((run["activity"].iloc[0], values[:, start : start + WINDOW]))
    return windows


class Wisdm(DownstreamBuilder):
    """10 s accelerometer windows of the phone or the watch.

    Compared with the SLIP authors' release: theirs has 18 classes and a 22,396 / 5,600 train / test split;
    a third-party converter measured 3 channels, 10 s windows and subjects on both sides of the split. Ours
    has 18 classes in 10 s windows at the raw 20 Hz and holds out 20 % of subjects, so the test is
    subject-disjoint.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIGS = [
        SourceConfig(name="phone", description="Smartphone accelerometer (trouser pocket)."),
        SourceConfig(name="watch", description="Smartwatch accelerometer (dominant wrist)."),
    ]
    DEFAULT_CONFIG_NAME = "phone"

    def source_files(self):
        return [ARCHIVE]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(LABELS),
            homepage="https://archive.ics.uci.edu/dataset/507",
            citation="Weiss, WISDM Smartphone and Smartwatch Activity and Biometrics Dataset, UCI 2019.",
            license="CC BY 4.0",
        )

    def _split_generators(self, dl_manager):
        archive = self.fetch_sources(dl_manager)[ARCHIVE.name]
        pattern = re.compile(
            rf"(?:^|/)raw/{self.config.name}/accel/data_(\d+)_accel_{self.config.name}\.txt$"
        )
        with zipfile.ZipFile(archive) as handle:
            members = {m.group(1): name for name in handle.namelist() if (m := pattern.search(name))}
            key = [name for name in handle.namelist() if name.endswith("activity_key.txt")]
            if key:
                self._check_activity_key(handle.read(key[0]).decode())
        if not members:
            raise SourceFileError(f"{ARCHIVE.name}: no raw/{self.config.name}/accel/data_*_accel_*.txt files")
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

    @staticmethod
    def _check_activity_key(text: str) -> None:
        published = dict(line.split(" = ") for line in text.splitlines() if " = " in line)
        if published and [published.get(label) for label in LABELS] != list(CODES):
            raise SourceFileError(
                f"{ARCHIVE.name}: activity_key.txt {published} differs from {dict(zip(LABELS, CODES))}"
            )

    def _generate_examples(self, archive, members):
        with zipfile.ZipFile(archive) as handle:
            for member in members:
                with handle.open(member) as raw:
                    frame = read_raw(raw, member)
                for index, (code, window) in enumerate(activity_windows(frame)):
                    subject = str(frame["subject"].iloc[0])
                    yield (
                        f"{subject}-{index}",
                        {
                            "id": f"wisdm_{self.config.name}-{subject}-{index:04d}",
                            "series": series_to_list(window),
                            "channel_names": ["acc_x", "acc_y", "acc_z"],
                            "freq": f"{SAMPLING_RATE}Hz",
                            "label": CODES.index(code),
                            "subject": subject,
                            "source": f"wisdm_{self.config.name}",
                        },
                    )
