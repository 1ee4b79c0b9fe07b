"""PTB-XL 1.0.3 (Wagner et al. 2020): 10 s 12-lead ECGs at 100 Hz, 5 diagnostic superclasses.

Source: the PhysioNet archive. Records are the 100 Hz WFDB versions (``records100/``, ``filename_lr``),
read with ``wfdb``. Labels: each statement in ``scp_codes`` (a dict literal, parsed with
``ast.literal_eval``) that ``scp_statements.csv`` marks diagnostic maps to its ``diagnostic_class``
(NORM, MI, STTC, CD, HYP). Classification needs one label, so records whose statements give exactly one
superclass are kept; records with several superclasses or none (about a quarter of the 21,799) are left
out, and the count is logged. Split: the recommended ``strat_fold`` split (folds 1-8 train, 9
validation, 10 test). PhysioNet publishes per-file SHA256 sums but none for the zip; the archive is
verified by its zip CRCs and its expected members.
"""

from __future__ import annotations

import ast
import zipfile
from collections.abc import Mapping
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from ..schema import classification_features
from ._base import (
    DownstreamBuilder,
    SourceFile,
    SourceFileError,
    check_columns,
    import_reader,
    series_to_list,
)

ARCHIVE = SourceFile(
    name="ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3.zip",
    url=(
        "https://physionet.org/static/published-projects/ptb-xl/"
        "ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3.zip"
    ),
)
LABELS = ("NORM", "MI", "STTC", "CD", "HYP")
LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
SAMPLING_RATE = 100
FOLDS = {"train": range(1, 9), "validation": (9,), "test": (10,)}

ZERO_SHOT_PROMPTS = {
    "NORM": ["a normal 12-lead electrocardiogram", "an ECG with normal sinus rhythm and no abnormality"],
    "MI": ["an electrocardiogram showing myocardial infarction", "an ECG with signs of a heart attack"],
    "STTC": ["an electrocardiogram with ST/T changes", "an ECG with ST segment and T wave abnormalities"],
    "CD": ["an electrocardiogram with a conduction disturbance", "an ECG showing a bundle branch block"],
    "HYP": ["an electrocardiogram showing hypertrophy", "an ECG with ventricular hypertrophy"],
}

logger = datasets.logging.get_logger(__name__)


def superclasses(scp_codes: str, diagnostic_class: Mapping[str, str]) -> set[str]:
    """Superclasses of one record's ``scp_codes`` literal (e.g. "{'NORM': 100.0, 'SR': 0.0}")."""
    codes = ast.literal_eval(scp_codes)
    if not isinstance(codes, dict):
        raise ValueError(f"scp_codes must be a dict literal, got {scp_codes!r}")
    return {diagnostic_class[code] for code in codes if code in diagnostic_class}


def unpack_ptb_xl(builder: DownstreamBuilder, dl_manager, archive: Path) -> Path:
    """Unpack the two tables and the 100 Hz records of a verified archive; returns the dataset root."""
    with zipfile.ZipFile(archive) as handle:
        names = handle.namelist()
    database = [name for name in names if name.rsplit("/", 1)[-1] == "ptbxl_database.csv"]
    if len(database) != 1:
        raise SourceFileError(f"{ARCHIVE.name}: expected one ptbxl_database.csv, found {database}")
    prefix = database[0][: -len("ptbxl_database.csv")]
    wanted = {f"{prefix}ptbxl_database.csv", f"{prefix}scp_statements.csv"}
    members = [
        n for n in names if n in wanted or (n.startswith(f"{prefix}records100/") and not n.endswith("/"))
    ]
    return builder.unpack(dl_manager, archive, members) / prefix


def read_record(root: Path, filename_lr: str) -> np.ndarray:
    """One 100 Hz record as a (12, 1000) array via ``wfdb``, leads checked."""
    signal, fields = import_reader("wfdb").rdsamp(str(root / filename_lr))
    if fields["fs"] != SAMPLING_RATE or [name.upper() for name in fields["sig_name"]] != list(LEADS):
        raise SourceFileError(
            f"{filename_lr}: expected {SAMPLING_RATE} Hz leads {list(LEADS)}, got {fields['fs']} Hz {fields['sig_name']}"
        )
    return np.asarray(signal, dtype=np.float32).T


class PtbXl(DownstreamBuilder):
    """Single-superclass PTB-XL records at 100 Hz with the strat_fold split.

    Compared with the SLIP authors' release: theirs has 5 superclasses and an 11,320 / 1,650 train / test
    split; a third-party converter measured 12 leads and 512-step (5.12 s) windows. Ours has the 5
    superclasses with the full 10 s record at 100 Hz and the dataset's recommended folds, because those folds
    are the standard split.
    """

    VERSION = datasets.Version("1.0.3")

    def source_files(self):
        return [ARCHIVE]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=classification_features(LABELS),
            homepage="https://physionet.org/content/ptb-xl/1.0.3/",
            citation="Wagner et al., PTB-XL, a large publicly available electrocardiography dataset, Sci Data 2020.",
            license="CC BY 4.0",
        )

    def _split_generators(self, dl_manager):
        root = unpack_ptb_xl(self, dl_manager, self.fetch_sources(dl_manager)[ARCHIVE.name])
        table = self._labelled_records(root)
        return [
            datasets.SplitGenerator(
                name=split, gen_kwargs={"root": root, "records": table[table["strat_fold"].isin(folds)]}
            )
            for split, folds in FOLDS.items()
        ]

    def _labelled_records(self, root) -> pd.DataFrame:
        statements = pd.read_csv(root / "scp_statements.csv", index_col=0)
        check_columns(statements.columns, ["diagnostic", "diagnostic_class"], "scp_statements.csv")
        diagnostic = statements[statements["diagnostic"] == 1]["diagnostic_class"].to_dict()
        database = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id")
        check_columns(
            database.columns, ["patient_id", "scp_codes", "strat_fold", "filename_lr"], "ptbxl_database.csv"
        )
        classes = database["scp_codes"].map(lambda codes: superclasses(codes, diagnostic))
        single = classes.map(len) == 1
        logger.info(
            f"PTB-XL: {int((~single).sum())} of {len(database)} records have not exactly one superclass"
        )
        kept = database[single].copy()
        kept["superclass"] = classes[single].map(lambda found: next(iter(found)))
        return kept

    def _generate_examples(self, root, records):
        for ecg_id, record in records.iterrows():
            yield (
                int(ecg_id),
                {
                    "id": f"ptb_xl-{int(ecg_id):05d}",
                    "series": series_to_list(read_record(root, record["filename_lr"])),
                    "channel_names": list(LEADS),
                    "freq": f"{SAMPLING_RATE}Hz",
                    "label": LABELS.index(record["superclass"]),
                    "subject": str(int(record["patient_id"])),
                    "source": "ptb_xl",
                },
            )
