"""PPG-BP (Liang et al. 2018): 2.1 s fingertip PPG segments at 1 kHz, cardiovascular classes.

Source: ``PPG-BP Database.zip`` (figshare 5459299): ``Data File/0_subject/<subject>_<segment>.txt``
(one tab-separated line of 2100 raw samples; lines end with a tab) and the subject sheet
``Data File/PPG-BP dataset.xlsx`` (read with pandas + openpyxl; its header row is found by the
``subject_ID`` cell). Configs, all from the sheet's condition columns:

- ``conditions`` (default): normal / hypertension (Stage 1 or 2) / diabetes (any Diabetes entry) /
  stroke (cerebral infarction); prehypertension counts as normal. Subjects with more than one
  condition have no single class and are not examples (counted in the log).
- ``htn``: the four blood-pressure levels of the Hypertension column (normal, prehypertension,
  stage 1, stage 2); ``dm``: diabetes or not; ``cva``: cerebral infarction (stroke) or not. These are
  the three PPG tasks (PPG_HTN, PPG_DM, PPG_CVA) of the SLIP release.

Split: subject-wise, 20 % of subjects held out for test (seed 0); a subject's three segments stay
together. The figshare download URL is the article's bundle; no checksum is published, so the archive
is verified by its zip CRCs and its expected members.
"""

from __future__ import annotations

import io
import re
import zipfile

import datasets
import numpy as np
import pandas as pd

from ..schema import classification_features
from ._base import DownstreamBuilder, SourceConfig, SourceFile, SourceFileError, series_to_list, subject_split

ARCHIVE = SourceFile(
    name="PPG-BP Database.zip", url="https://figshare.com/ndownloader/articles/5459299/versions/5"
)
SHEET = "PPG-BP dataset.xlsx"
LABELS = ("normal", "hypertension", "diabetes", "stroke")
CONFIG_LABELS = {
    "conditions": LABELS,
    "htn": ("normal", "prehypertension", "stage_1_hypertension", "stage_2_hypertension"),
    "dm": ("no_diabetes", "diabetes"),
    "cva": ("no_stroke", "stroke"),
}
SAMPLES = 2100
CONDITION_COLUMNS = ("Hypertension", "Diabetes", "cerebral infarction")

ZERO_SHOT_PROMPTS = {  # every label of every config
    "normal": [
        "a fingertip PPG pulse of a healthy person",
        "photoplethysmogram with no cardiovascular disease",
    ],
    "hypertension": [
        "a fingertip PPG pulse of a person with hypertension",
        "photoplethysmogram of high blood pressure",
    ],
    "diabetes": [
        "a fingertip PPG pulse of a person with diabetes",
        "photoplethysmogram of a diabetic patient",
    ],
    "stroke": [
        "a fingertip PPG pulse of a person who had a stroke",
        "photoplethysmogram after cerebral infarction",
    ],
    "prehypertension": [
        "a fingertip PPG pulse of a person with prehypertension",
        "slightly elevated blood pressure",
    ],
    "stage_1_hypertension": [
        "a fingertip PPG pulse with stage 1 hypertension",
        "moderately high blood pressure",
    ],
    "stage_2_hypertension": [
        "a fingertip PPG pulse with stage 2 hypertension",
        "severely high blood pressure",
    ],
    "no_diabetes": [
        "a fingertip PPG pulse of a person without diabetes",
        "photoplethysmogram of a non-diabetic",
    ],
    "no_stroke": ["a fingertip PPG pulse of a person who never had a stroke", "no cerebral infarction"],
}

logger = datasets.logging.get_logger(__name__)


def subject_conditions(row: pd.Series) -> set[str]:
    """The conditions a sheet row records (for the ``conditions`` config)."""
    found = set()
    if str(row["Hypertension"]).strip().lower().startswith("stage"):
        found.add("hypertension")
    if _recorded(row["Diabetes"]):
        found.add("diabetes")
    if _recorded(row["cerebral infarction"]):
        found.add("stroke")
    return found


def _recorded(cell) -> bool:
    return isinstance(cell, str) and bool(cell.strip())


def subject_class(row: pd.Series, config: str) -> str | None:
    """The class of a sheet row under ``config``; None where the row has no single class."""
    if config == "conditions":
        found = subject_conditions(row)
        return None if len(found) > 1 else (found.pop() if found else "normal")
    if config == "htn":
        level = str(row["Hypertension"]).strip().lower().replace(" ", "_")
        if level not in CONFIG_LABELS["htn"]:
            raise SourceFileError(f"{ARCHIVE.name}: {SHEET} has Hypertension {row['Hypertension']!r}")
        return level
    if config == "dm":
        return "diabetes" if _recorded(row["Diabetes"]) else "no_diabetes"
    return "stroke" if _recorded(row["cerebral infarction"]) else "no_stroke"


def read_sheet(data: bytes) -> pd.DataFrame:
    """The subject sheet, indexed by subject_ID, whatever rows sit above its header."""
    raw = pd.read_excel(io.BytesIO(data), header=None, engine="openpyxl")
    header_rows = [i for i, row in raw.iterrows() if "subject_ID" in set(row.astype(str).str.strip())]
    if not header_rows:
        raise SourceFileError(f"{ARCHIVE.name}: {SHEET} has no 'subject_ID' header cell")
    header = header_rows[0]
    sheet = raw.iloc[header + 1 :].copy()
    sheet.columns = [str(c).strip() for c in raw.iloc[header]]
    missing = sorted(set(CONDITION_COLUMNS) - set(sheet.columns))
    if missing:
        raise SourceFileError(f"{ARCHIVE.name}: {SHEET} lacks columns {missing}")
    sheet = sheet.dropna(subset=["subject_ID"])
    sheet["subject_ID"] = sheet["subject_ID"].astype(int)
    return sheet.set_index("subject_ID")


class PpgBp(DownstreamBuilder):
    """Raw PPG segments with one cardiovascular class per subject.

    Compared with the SLIP authors' release: theirs has three tasks (stroke 2 classes, diabetes 2,
    hypertension 4); a third-party converter measured ~4 s windows. Ours has the same three tasks as configs
    ``cva``, ``dm`` and ``htn`` (plus the 4-condition config) and keeps the full 2.1 s segments at 1 kHz, the
    source's segment as published; subjects are held out.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIGS = [
        SourceConfig(name="conditions", description="normal / hypertension / diabetes / stroke"),
        SourceConfig(
            name="htn", description="blood-pressure level: normal / prehypertension / stage 1 / stage 2"
        ),
        SourceConfig(name="dm", description="diabetes or not"),
        SourceConfig(name="cva", description="cerebral infarction (stroke) or not"),
    ]
    DEFAULT_CONFIG_NAME = "conditions"

    def source_files(self):
        return [ARCHIVE]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(CONFIG_LABELS[self.config.name]),
            homepage="https://doi.org/10.6084/m9.figshare.5459299",
            citation="Liang et al., A new, short-recorded photoplethysmogram dataset for blood pressure monitoring in China, Sci Data 2018.",
            license="CC BY 4.0",
        )

    def _split_generators(self, dl_manager):
        archive = self.fetch_sources(dl_manager)[ARCHIVE.name]
        pattern = re.compile(r"(?:^|/)0_subject/(\d+)_(\d+)\.txt$")
        with zipfile.ZipFile(archive) as handle:
            names = handle.namelist()
            sheets = [n for n in names if n.rsplit("/", 1)[-1] == SHEET]
            if len(sheets) != 1:
                raise SourceFileError(f"{ARCHIVE.name}: expected one {SHEET}, found {sheets}")
            sheet = read_sheet(handle.read(sheets[0]))
        classes = {}
        for subject, row in sheet.iterrows():
            if (label := subject_class(row, self.config.name)) is not None:
                classes[subject] = label
        logger.info(
            f"PPG-BP: {len(sheet) - len(classes)} subjects with several conditions have no single class"
        )
        segments = [(int(m.group(1)), name) for name in sorted(names) if (m := pattern.search(name))]
        unknown = sorted({s for s, _ in segments} - set(sheet.index))
        if unknown:
            raise SourceFileError(f"{ARCHIVE.name}: segments of subjects {unknown} missing from {SHEET}")
        segments = [(s, name) for s, name in segments if s in classes]
        test_subjects = subject_split([str(s) for s, _ in segments], test_fraction=0.2)
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "archive": archive,
                    "segments": [
                        (s, n, classes[s])
                        for s, n in segments
                        if (str(s) in test_subjects) == (split == "test")
                    ],
                },
            )
            for split in ("train", "test")
        ]

    def _generate_examples(self, archive, segments):
        with zipfile.ZipFile(archive) as handle:
            for subject, name, label in segments:
                table = pd.read_csv(io.BytesIO(handle.read(name)), sep="\t", header=None)
                values = table.dropna(axis=1, how="all").to_numpy(dtype=np.float32)  # the line's trailing tab
                if values.shape != (1, SAMPLES):
                    raise SourceFileError(
                        f"{ARCHIVE.name}: {name} holds {values.shape}, expected one line of {SAMPLES}"
                    )
                stem = name.rsplit("/", 1)[-1][:-4]
                yield (
                    stem,
                    {
                        "id": f"ppg_bp-{stem}",
                        "series": series_to_list(values),
                        "channel_names": ["ppg"],
                        "freq": "1000Hz",
                        "label": CONFIG_LABELS[self.config.name].index(label),
                        "subject": str(subject),
                        "source": "ppg_bp",
                    },
                )
