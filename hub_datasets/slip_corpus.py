"""Reader for the SLIP authors' released corpus format, mapped to `schema.CORPUS_FEATURES`.

The release is a folder of Parquet files with columns ``time_series`` (a 1-D list, or a (C, L) nested list),
``caption0`` .. ``caption3`` (alternative captions of the series), ``category`` and ``dataset``, plus a
``meta.csv`` with one row per dataset: ``Domain``, ``Dataset``, ``Description``, ``patch_size``.

Mapping: each listed caption column that is non-empty gives one row (``id`` ends in ``#captionK``), its text
in ``caption``; ``caption_semantic`` is the dataset's ``Description`` from ``meta.csv``; the release has no
statistical / structural split, so those columns are "". The release states no channel names, units or
sampling rate: channel names and units are "" and ``freq`` is "" (`processing_slip` then picks a patch size
from the length; the authors' per-dataset ``patch_size`` is in ``meta.csv``). ``domain`` comes from
``meta.csv``; ``source`` is ``slip/<dataset>``.

Integrity: pages are verified against their CRCs wherever the files carry them, and a file that cannot be
read raises `SourceFileError` naming it. No digest of the release is published, so ``checksums=`` pins the
SHA-256 of files you trust (the Hub shows each file's). The prepared dataset is cached under a digest of the
release's files, so a file changed after an earlier build is read afresh, never served from that build.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .integrity import cache_key, file_digest
from .schema import CORPUS_FEATURES
from .sources.base import SourceFileError

CAPTION_COLUMNS = ("caption0", "caption1", "caption2", "caption3")
META_COLUMNS = ("Domain", "Dataset", "Description", "patch_size")
_REQUIRED = ("time_series", "dataset")
_BATCH_ROWS = 1024


@dataclass
class ReleasedSlipCorpusConfig(datasets.BuilderConfig):
    """Args:
    caption_columns: which of ``caption0`` .. ``caption3`` to emit rows for (one row per non-empty caption).
    checksums: file path relative to ``data_dir`` -> SHA-256 it must have; every name must be a file read.
    """

    caption_columns: tuple[str, ...] = CAPTION_COLUMNS
    checksums: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Normalise sequences to tuples and reject bad values (``datasets`` sets config kwargs after init)."""
        self.caption_columns = tuple(self.caption_columns)
        if not self.caption_columns or set(self.caption_columns) - set(CAPTION_COLUMNS):
            raise ValueError(
                f"caption_columns must be a non-empty subset of {CAPTION_COLUMNS}, got {self.caption_columns}."
            )
        self.checksums = dict(self.checksums)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.checksums.items()):
            raise ValueError(
                "checksums must map file paths (relative to data_dir) to SHA-256 hex strings, got "
                f"{self.checksums}."
            )


def release_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file the reader reads (Parquet files, meta.csv), by path relative to ``root``."""
    files = sorted(root.rglob("*.parquet")) + [root / "meta.csv"]
    return {file.relative_to(root).as_posix(): file_digest(file) for file in files if file.is_file()}


def read_batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Record batches of one release file, its page CRCs verified where it has them; errors name the file."""
    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True)
        yield from parquet.iter_batches(batch_size=_BATCH_ROWS, columns=columns)
    except (OSError, pa.ArrowException) as error:
        raise SourceFileError(f"Cannot read the Parquet file {path}: {error}") from error


def read_meta(path: Path) -> dict[str, dict[str, str]]:
    """``meta.csv`` -> dataset name -> {"domain", "description", "patch_size"}."""
    if not path.is_file():
        raise SourceFileError(
            f"meta.csv not found at {path}; the released corpus ships one next to its Parquet files."
        )
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SourceFileError(f"Cannot parse {path}: {error}") from error
    missing = set(META_COLUMNS) - set(table.columns)
    if missing:
        raise SourceFileError(f"{path} lacks columns {sorted(missing)}; expected {list(META_COLUMNS)}.")
    return {
        row.Dataset: {"domain": row.Domain, "description": row.Description, "patch_size": row.patch_size}
        for row in table.itertuples(index=False)
    }


def to_channels_first(value: object, where: str) -> np.ndarray:
    """A released ``time_series`` value (1-D or (C, L) nested list) -> (C, L) float32; None entries -> NaN."""
    try:
        array = np.array(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise SourceFileError(
            f"{where}: time_series is not a 1-D or (C, L) list of numbers ({error})."
        ) from error
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise SourceFileError(f"{where}: time_series must be 1-D or (C, L), got shape {array.shape}.")
    return array


class ReleasedSlipCorpus(datasets.GeneratorBasedBuilder):
    """The authors' released SLIP corpus from a local folder (``data_dir``), as one ``train`` split."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = ReleasedSlipCorpusConfig
    BUILDER_CONFIGS = [ReleasedSlipCorpusConfig(name="default", version=VERSION)]
    DEFAULT_CONFIG_NAME = "default"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", "released_slip_corpus")
        data_dir = kwargs.get("data_dir")
        self.digests = release_digests(Path(data_dir)) if data_dir and Path(data_dir).is_dir() else {}
        if self.digests:  # the cache folder follows the files' contents, not only their path
            kwargs["hash"] = cache_key(json.dumps(self.digests, sort_keys=True))
        super().__init__(*args, **kwargs)
        self.config.validate()

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="The SLIP authors' released sensor-caption corpus, mapped to the SLIP corpus schema.",
            features=CORPUS_FEATURES,
        )

    def _split_generators(self, dl_manager):
        if self.config.data_dir is None:
            raise ValueError(
                "Pass data_dir= pointing at the folder with the released Parquet files and meta.csv."
            )
        root = Path(self.config.data_dir)
        files = sorted(root.rglob("*.parquet"))
        if not files:
            raise SourceFileError(
                f"No .parquet file under {root}; pass the folder holding the released corpus."
            )
        self._check_checksums(root)
        meta = read_meta(root / "meta.csv")
        for path in files:
            self._check_file(path, meta)
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"files": files, "meta": meta})]

    def _check_checksums(self, root: Path) -> None:
        """Every ``checksums=`` entry names a file read here, and that file has the given SHA-256."""
        unknown = sorted(set(self.config.checksums) - set(self.digests))
        if unknown:
            raise ValueError(
                f"checksums= names {unknown}, which are not files of the release; its files are "
                f"{sorted(self.digests)}."
            )
        for name, expected in sorted(self.config.checksums.items()):
            if self.digests[name] != expected.lower():
                raise SourceFileError(
                    f"{root / name}: SHA-256 {self.digests[name]} does not match the {expected} passed as "
                    "checksums=; the file is corrupt or not the one you pinned. Download it again."
                )

    def _check_file(self, path: Path, meta: dict[str, dict[str, str]]) -> None:
        """Fail before writing anything on an unreadable file, missing columns or a dataset absent from meta.csv."""
        try:
            parquet = pq.ParquetFile(path, page_checksum_verification=True)
            missing = set(_REQUIRED + self.config.caption_columns) - set(parquet.schema_arrow.names)
            if missing:
                raise SourceFileError(f"{path} lacks columns {sorted(missing)}.")
            names = set(parquet.read(columns=["dataset"]).column("dataset").to_pylist())
        except (OSError, pa.ArrowException) as error:
            raise SourceFileError(f"Cannot read the Parquet file {path}: {error}") from error
        unknown = sorted(map(str, names - set(meta)))
        if unknown:
            raise SourceFileError(f"{path}: datasets {unknown} have no row in meta.csv.")

    def _generate_examples(
        self, files: list[Path], meta: dict[str, dict[str, str]]
    ) -> Iterator[tuple[str, dict]]:
        wanted = self.config.caption_columns
        for path in files:
            row = 0
            for batch in read_batches(path, [*_REQUIRED, *wanted]):
                for record in batch.to_pylist():
                    where = f"{path} row {row}"
                    dataset = record["dataset"]
                    series = to_channels_first(record["time_series"], where)
                    channels = series.shape[0]
                    for column in wanted:
                        caption = record[column]
                        if caption is None or not caption.strip():
                            continue
                        key = f"{path.stem}/{row}#{column}"
                        yield (
                            key,
                            {
                                "id": key,
                                "series": series,
                                "channel_names": [""] * channels,
                                "units": [""] * channels,
                                "freq": "",
                                "domain": meta[dataset]["domain"],
                                "source": f"slip/{dataset}",
                                "caption_statistical": "",
                                "caption_structural": "",
                                "caption_semantic": meta[dataset]["description"],
                                "caption": caption.strip(),
                            },
                        )
                    row += 1
