"""UCI-HAR (Anguita et al. 2013): smartphone accelerometer + gyroscope windows, 6 activities.

Source: the official ``UCI HAR Dataset.zip``. Windows are the published ones (2.56 s, 128 samples at
50 Hz, 50 % overlap) from ``{train,test}/Inertial Signals``: total acceleration x/y/z (g) and angular
velocity x/y/z (rad/s, named ``body_gyro`` in the release). The derived ``body_acc`` files are left out
(they are total_acc minus a low-pass gravity estimate). Split: the published subject split
(21 train / 9 test subjects, 7352 / 2947 windows, as in the paper). The paper's table also lists postural
transitions; those exist only in the HAPT re-release, not in this archive, so ours has the 6 activities.
No SHA256 is published by UCI; the archive is verified by its zip CRCs and its expected members.
"""

from __future__ import annotations

import zipfile

import datasets
import numpy as np
import pandas as pd

from ..schema import classification_features
from ._base import DownstreamBuilder, SourceFile, SourceFileError, series_to_list

ARCHIVE = SourceFile(
    name="UCI HAR Dataset.zip",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00240/UCI%20HAR%20Dataset.zip",
)
ROOT = "UCI HAR Dataset"
SIGNALS = ("total_acc_x", "total_acc_y", "total_acc_z", "body_gyro_x", "body_gyro_y", "body_gyro_z")
CHANNEL_NAMES = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
WINDOW = 128
LABELS = ("walking", "walking_upstairs", "walking_downstairs", "sitting", "standing", "laying")

ZERO_SHOT_PROMPTS = {
    "walking": ["a person walking on level ground", "smartphone motion while walking"],
    "walking_upstairs": ["a person walking upstairs", "smartphone motion while climbing stairs"],
    "walking_downstairs": ["a person walking downstairs", "smartphone motion while descending stairs"],
    "sitting": ["a person sitting still", "smartphone motion while sitting"],
    "standing": ["a person standing still", "smartphone motion while standing"],
    "laying": ["a person lying down", "smartphone motion while lying down"],
}


def _read_table(archive: zipfile.ZipFile, member: str) -> pd.DataFrame:
    """Whitespace-separated numeric text file, no header (the release's format for every table)."""
    try:
        with archive.open(member) as handle:
            return pd.read_csv(handle, sep=r"\s+", header=None)
    except KeyError as error:
        raise SourceFileError(
            f"{ARCHIVE.name}: member {member!r} is missing; is this the official archive?"
        ) from error


class UciHar(DownstreamBuilder):
    """UCI-HAR windows with the official subject split.

    Compared with the SLIP authors' release: theirs has 7 classes and a 1,847 / 793 train / test split;
    a third-party converter measured 6 acceleration channels (body + total, no gyroscope) and 4 s windows.
    Ours has 6 classes, acc + gyro, and the official 128-step windows and subject split: the official release
    is the standard benchmark, and postural transitions are not in it.
    """

    VERSION = datasets.Version("1.0.0")

    def source_files(self):
        return [ARCHIVE]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(LABELS),
            homepage="https://archive.ics.uci.edu/dataset/240",
            citation="Anguita et al., A Public Domain Dataset for Human Activity Recognition Using Smartphones, ESANN 2013.",
        )

    def _split_generators(self, dl_manager):
        archive = self.fetch_sources(dl_manager)[ARCHIVE.name]
        return [
            datasets.SplitGenerator(
                name=datasets.Split.TRAIN, gen_kwargs={"archive": archive, "part": "train"}
            ),
            datasets.SplitGenerator(
                name=datasets.Split.TEST, gen_kwargs={"archive": archive, "part": "test"}
            ),
        ]

    def _generate_examples(self, archive, part):
        with zipfile.ZipFile(archive) as handle:
            labels = _read_table(handle, f"{ROOT}/activity_labels.txt")
            published = [name.lower() for name in labels[1]]
            if published != list(LABELS):
                raise SourceFileError(
                    f"{ARCHIVE.name}: activity_labels.txt lists {published}, expected {list(LABELS)}"
                )
            subjects = _read_table(handle, f"{ROOT}/{part}/subject_{part}.txt")[0].to_numpy()
            activity = _read_table(handle, f"{ROOT}/{part}/y_{part}.txt")[0].to_numpy()
            channels = []
            for signal in SIGNALS:
                table = _read_table(handle, f"{ROOT}/{part}/Inertial Signals/{signal}_{part}.txt")
                if table.shape != (len(activity), WINDOW):
                    raise SourceFileError(
                        f"{ARCHIVE.name}: {signal}_{part}.txt has shape {table.shape}, "
                        f"expected ({len(activity)}, {WINDOW})"
                    )
                channels.append(table.to_numpy(dtype=np.float32))
        if len(subjects) != len(activity):
            raise SourceFileError(f"{ARCHIVE.name}: subject_{part}.txt and y_{part}.txt differ in length")
        windows = np.stack(channels, axis=1)  # (N, C, T)
        for index, (window, label, subject) in enumerate(zip(windows, activity, subjects)):
            yield (
                f"{part}-{index}",
                {
                    "id": f"uci_har-{part}-{index:05d}",
                    "series": series_to_list(window),
                    "channel_names": list(CHANNEL_NAMES),
                    "freq": "50Hz",
                    "label": int(label) - 1,
                    "subject": str(int(subject)),
                    "source": "uci_har",
                },
            )
