"""Asphalt obstacles (Souza et al. 2018; UCR/UEA archive): vehicle acceleration magnitude, 4 obstacle classes.

Source: ``AsphaltObstacles.zip`` from timeseriesclassification.com holding ``AsphaltObstacles_TRAIN.ts`` and
``AsphaltObstacles_TEST.ts`` (sktime/aeon ``.ts`` format, read with ``aeon.datasets.load_from_ts_file``):
one univariate, variable-length series per obstacle pass, the magnitude of a dashboard smartphone's 3-axis
acceleration sampled at 100 Hz. The archive's own train / test split is kept. Class names are the
``@classLabel`` values the files declare (the archive gives no longer names), so the label feature is
set from the file when the set is built, and no zero-shot prompts are defined. No checksum is
published; the archive is verified by its zip CRCs.
"""

from __future__ import annotations

import zipfile

import datasets
import numpy as np

from ..schema import classification_features
from ._base import DownstreamBuilder, SourceFile, SourceFileError, import_reader, series_to_list

ARCHIVE = SourceFile(
    name="AsphaltObstacles.zip", url="https://timeseriesclassification.com/aeon-toolkit/AsphaltObstacles.zip"
)
FILES = {"train": "AsphaltObstacles_TRAIN.ts", "test": "AsphaltObstacles_TEST.ts"}
SAMPLING_RATE = 100


class AsphaltObstacles(DownstreamBuilder):
    """Variable-length acceleration-magnitude series with the archive's split.

    Compared with the SLIP authors' release: the same. Theirs has 4 classes and a 390 / 391 train / test
    split; ours has the 4 classes and keeps the archive's own 390 / 391 split.
    """

    VERSION = datasets.Version("1.0.0")

    def source_files(self):
        return [ARCHIVE]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(()),
            homepage="https://timeseriesclassification.com/description.php?Dataset=AsphaltObstacles",
            citation="Souza et al., Asphalt pavement classification using smartphone accelerometer and "
            "Complexity Invariant Distance, Eng. Appl. of AI 2018.",
        )

    def _split_generators(self, dl_manager):
        archive = self.fetch_sources(dl_manager)[ARCHIVE.name]
        with zipfile.ZipFile(archive) as handle:
            found = {name.rsplit("/", 1)[-1]: name for name in handle.namelist()}
        missing = sorted(set(FILES.values()) - set(found))
        if missing:
            raise SourceFileError(f"{ARCHIVE.name}: missing {missing}")
        root = self.unpack(dl_manager, archive, [found[name] for name in FILES.values()])
        load = import_reader("aeon.datasets").load_from_ts_file
        parts = {split: load(str(root / found[name]), return_meta_data=True) for split, name in FILES.items()}
        labels = [str(value) for value in parts["train"][2]["class_values"]]
        if [str(value) for value in parts["test"][2]["class_values"]] != labels:
            raise SourceFileError(f"{ARCHIVE.name}: the train and test files declare different classes")
        self.info.features = classification_features(labels)
        return [
            datasets.SplitGenerator(
                name=split, gen_kwargs={"rows": list(zip(range(len(x)), x, y)), "split": split}
            )
            for split, (x, y, _) in parts.items()
        ]

    def _generate_examples(self, rows, split):
        names = self.info.features["label"].names
        for index, values, label in rows:
            yield (
                f"{split}-{index}",
                {
                    "id": f"asphalt_obstacles-{split}-{index:04d}",
                    "series": series_to_list(np.asarray(values, dtype=np.float32).reshape(1, -1)),
                    "channel_names": ["acc_magnitude"],
                    "freq": f"{SAMPLING_RATE}Hz",
                    "label": names.index(str(label)),
                    "subject": "",
                    "source": "asphalt_obstacles",
                },
            )
