"""ECG-QA-CoT (OpenTSLM): questions about PTB-XL ECGs with chain-of-thought rationales.

Sources: OpenTSLM's ``ecg_qa_cot.tar.gz`` holding ``ecg_qa_cot_{train,val,test}.csv`` (the published
split; columns ``question``, ``answer``, ``template_id``, ``question_type``, ``clinical_context``,
``rationale``, ``ecg_id`` written as ``[id]``) and the PTB-XL 1.0.3 archive for the signals, read with
``wfdb`` from the 100 Hz records (12 leads, 10 s). Rows are scored by the ``ecg_qa`` parser; ECG-QA
answers are open (yes/no, a finding, a lead), so ``choices`` is empty. No checksum is published for the
CoT archive; its gzip stream is read through to catch truncation.
"""

from __future__ import annotations

import tarfile

import datasets
import pandas as pd

from ._base import SourceFile, SourceFileError, check_columns
from ._qa import QABuilder, qa_row
from .ptb_xl import ARCHIVE as PTB_XL_ARCHIVE
from .ptb_xl import LEADS, SAMPLING_RATE, read_record, unpack_ptb_xl

COT_ARCHIVE = SourceFile(
    name="ecg_qa_cot.tar.gz",
    url="https://polybox.ethz.ch/index.php/s/FJfRg5eKHjzjik5/download/ecg_qa_cot.tar.gz",
)
FILES = {"train": "ecg_qa_cot_train.csv", "validation": "ecg_qa_cot_val.csv", "test": "ecg_qa_cot_test.csv"}
COLUMNS = ["question", "answer", "template_id", "question_type", "clinical_context", "rationale", "ecg_id"]


def read_cot_tables(path) -> dict[str, pd.DataFrame]:
    """The three split tables from anywhere inside the tar archive."""
    tables = {}
    with tarfile.open(path, "r:*") as archive:
        members = {member.name.rsplit("/", 1)[-1]: member for member in archive if member.isfile()}
        for split, file_name in FILES.items():
            if file_name not in members:
                raise SourceFileError(f"{COT_ARCHIVE.name}: {file_name} is missing")
            frame = pd.read_csv(archive.extractfile(members[file_name]))
            check_columns(frame.columns, COLUMNS, file_name)
            tables[split] = frame
    return tables


def parse_ecg_id(value) -> int:
    """``[12345]`` or ``12345`` -> 12345."""
    text = str(value).strip().strip("[]").strip()
    if not text.isdigit():
        raise ValueError(f"ecg_id must be one record number like '[12345]', got {value!r}")
    return int(text)


class EcgQaCot(QABuilder):
    VERSION = datasets.Version("1.0.0")

    def source_files(self):
        return [COT_ARCHIVE, PTB_XL_ARCHIVE]

    def _info(self):
        return self._qa_info(
            __doc__,
            "https://github.com/StanfordBDHG/OpenTSLM",
            "Langer et al., OpenTSLM, 2025; Oh et al., ECG-QA, NeurIPS 2023; Wagner et al., PTB-XL, Sci Data 2020.",
        )

    def _split_generators(self, dl_manager):
        paths = self.fetch_sources(dl_manager)
        root = unpack_ptb_xl(self, dl_manager, paths[PTB_XL_ARCHIVE.name])
        database = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id")
        check_columns(database.columns, ["filename_lr"], "ptbxl_database.csv")
        tables = read_cot_tables(paths[COT_ARCHIVE.name])
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "rows": tables[split],
                    "file_name": FILES[split],
                    "root": root,
                    "files": database["filename_lr"],
                },
            )
            for split in FILES
        ]

    def _generate_examples(self, rows, file_name, root, files):
        for index, row in rows.iterrows():
            ecg_id = parse_ecg_id(row["ecg_id"])
            if ecg_id not in files.index:
                raise SourceFileError(
                    f"{file_name} row {index}: ecg_id {ecg_id} is not in ptbxl_database.csv"
                )
            context = (
                row["clinical_context"]
                if isinstance(row["clinical_context"], str)
                else "12-lead ECG recording."
            )
            yield (
                int(index),
                qa_row(
                    f"ecg_qa_cot-{file_name.split('_')[3].removesuffix('.csv')}-{int(index):05d}",
                    read_record(root, files.loc[ecg_id]),
                    LEADS,
                    f"{SAMPLING_RATE}Hz",
                    "ecg_qa",
                    f"Clinical context: {context}\nQuestion: {row['question']}",
                    str(row["answer"]),
                    rationale=str(row["rationale"]),
                ),
            )
