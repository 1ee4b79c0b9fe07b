"""Download, verification and windowing shared by every downstream and finetuning builder.

Each builder names its raw files as :class:`SourceFile` (the file name as published, its URL and, where
it is known, its checksum). Files come from ``data_dir`` when the user passes one (already downloaded raw
files, as the tests do) and from ``dl_manager.download`` otherwise. Every file is verified before it is
parsed: by size and archive integrity (every zip member's CRC, the whole compressed stream of a tar), and by
its digest where one is published or passed as ``checksums=``. A download with no known digest is trusted on
first use: its SHA-256 is recorded in the download cache and a later download that differs is refused. A
bad file raises :class:`SourceFileError` naming it. ``datasets`` prepares into ``<cache>.incomplete`` and
only renames on success, so a failure never leaves a partial dataset behind; archives that must be unpacked
for a reader that wants real paths (``wfdb``) are unpacked the same way, into a temporary folder renamed on
success.
"""

from __future__ import annotations

import abc
import importlib
import json
import lzma
import os
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import datasets
import numpy as np

from ..integrity import cache_key, file_digest

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
TRUST_DIR = "slip_trusted"
"""Folder of the download cache holding the SHA-256 of each first download that has no published digest."""


def import_reader(module: str) -> ModuleType:
    """Import a format reader of the ``downstream`` extra at first use, so the package imports without it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"reading this dataset needs {module!r}; install the extra with: pip install 'slip[downstream]'"
        ) from error


class SourceFileError(ValueError):
    """A raw source file is missing, truncated, corrupt or fails its checksum."""


@dataclass(frozen=True)
class SourceFile:
    """One published raw file.

    Attributes:
        name: the file name as published; also its name inside ``data_dir``.
        url: where ``dl_manager`` downloads it from.
        checksum: hex digest of the published file, or None where no published digest is known (then size
            and archive integrity are checked, and a download is trusted on first use).
        algorithm: ``hashlib`` name of the digest (PhysioNet and MNE publish SHA1 for Sleep-EDF).
    """

    name: str
    url: str
    checksum: str | None = None
    algorithm: str = "sha256"


class SourceConfig(datasets.BuilderConfig):
    """BuilderConfig with a checksum override, so a mirror or a re-release can be verified too.

    Args:
        checksums: file name -> hex digest (same algorithm as the SourceFile) replacing the built-in one or,
            for a file without one, the digest recorded at its first download. Every name must be a file of
            the configuration.
    """

    def __init__(self, *args, checksums: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.checksums = dict(checksums or {})


def verify_file(path: str | os.PathLike, source: SourceFile, expected: str | None) -> None:
    """Raise SourceFileError naming ``source.name`` when the file is missing, empty, corrupt or mismatched."""
    path = Path(path)
    if not path.is_file():
        raise SourceFileError(f"{source.name}: not found at {path}; download it from {source.url}.")
    if path.stat().st_size == 0:
        raise SourceFileError(
            f"{source.name}: the file at {path} is empty; download it again from {source.url}."
        )
    if expected is not None:
        actual = file_digest(path, source.algorithm)
        if actual.lower() != expected.lower():
            raise SourceFileError(
                f"{source.name}: {source.algorithm} {actual} does not match the expected {expected}; the file "
                f"is corrupt or truncated, delete {path} and download it again from {source.url}."
            )
    archive_name = source.name.lower()  # downloads are cached under hashed names, so go by the published one
    if archive_name.endswith(".zip"):
        _check_zip(path, source.name)
    elif archive_name.endswith(TAR_SUFFIXES):
        _check_tar(path, source.name)


def _check_zip(path: Path, name: str) -> None:
    """Open the archive and CRC-check every member (catches truncation when no checksum is known)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        raise SourceFileError(f"{name}: not a readable zip archive ({error}); download it again.") from error
    if bad is not None:
        raise SourceFileError(f"{name}: member {bad!r} fails its CRC check; the archive is corrupt.")


def _check_tar(path: Path, name: str) -> None:
    """Read the whole compressed tar stream (the gzip, bzip2 and xz checks and lengths catch truncation)."""
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile():
                    archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as error:
        raise SourceFileError(f"{name}: not a readable tar archive ({error}); download it again.") from error


def check_checksum_names(checksums: Mapping[str, str], sources: Sequence[SourceFile]) -> None:
    """Refuse a ``checksums=`` entry naming no file of this configuration (a typo would verify nothing)."""
    names = sorted(source.name for source in sources)
    unknown = sorted(set(checksums) - set(names))
    if unknown:
        raise ValueError(
            f"checksums= names {unknown}, which this configuration does not read; its files are {names}."
        )


def trust_on_first_use(path: Path, source: SourceFile, records: Path) -> None:
    """Record the SHA-256 of the first download of a file that has no published digest; refuse a later one
    that differs, since the file then changed at the source or on the way."""
    record = records / f"{cache_key(source.url)}.json"
    actual = file_digest(path)
    if not record.is_file():
        records.mkdir(parents=True, exist_ok=True)
        partial = record.with_name(f"{record.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps({"name": source.name, "url": source.url, "sha256": actual}))
        os.replace(partial, record)
        return
    trusted = _trusted_digest(record, source)
    if actual != trusted:
        raise SourceFileError(
            f"{source.name}: SHA-256 {actual} differs from {trusted}, recorded when it was first downloaded "
            f"from {source.url} (no digest is published, so the first download is trusted). The file changed "
            f"at the source or on the way. If you trust the new file, delete {record} or pass "
            f"checksums={{{source.name!r}: {actual!r}}}; otherwise delete {path} and download it again."
        )


def _trusted_digest(record: Path, source: SourceFile) -> str:
    try:
        return json.loads(record.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SourceFileError(
            f"{source.name}: the digest recorded at its first download, {record}, is unreadable ({error}); "
            "delete it to trust the file as downloaded now."
        ) from error


def download_cache(dl_manager: datasets.DownloadManager) -> Path:
    """The folder ``dl_manager`` downloads into; trust records and unpacked archives live beside the files."""
    return Path(dl_manager.download_config.cache_dir or datasets.config.DOWNLOADED_DATASETS_PATH)


class DownstreamBuilder(datasets.GeneratorBasedBuilder, abc.ABC):
    """Base builder: resolves, verifies and (when a reader needs paths) unpacks the raw files."""

    BUILDER_CONFIG_CLASS = SourceConfig

    @abc.abstractmethod
    def source_files(self) -> Sequence[SourceFile]:
        """The raw files this configuration needs."""

    def fetch_sources(self, dl_manager: datasets.DownloadManager) -> dict[str, Path]:
        """Return ``{file name: verified local path}`` for every source file.

        Files in ``data_dir`` are the user's own and are checked for integrity and against their digest;
        downloads without a known digest are also checked against the one recorded at their first download.
        """
        sources = list(self.source_files())
        check_checksum_names(self.config.checksums, sources)
        if self.config.data_dir:
            data_dir = Path(self.config.data_dir)
            paths = {source.name: data_dir / source.name for source in sources}
        else:
            downloaded = dl_manager.download({source.name: source.url for source in sources})
            paths = {name: Path(path) for name, path in downloaded.items()}
        for source in sources:
            expected = self.config.checksums.get(source.name, source.checksum)
            verify_file(paths[source.name], source, expected)
            if expected is None and not self.config.data_dir:
                trust_on_first_use(paths[source.name], source, download_cache(dl_manager) / TRUST_DIR)
        return paths

    def unpack(self, dl_manager: datasets.DownloadManager, archive: Path, members: Iterable[str]) -> Path:
        """Unpack ``members`` of a verified zip into the download cache; atomic (temp folder, then rename).

        The target is keyed on the archive's path, size, modification time and the members, so a replaced
        archive is unpacked afresh rather than served from a stale folder.
        """
        members = sorted(members)
        stat = archive.stat()
        identity = "|".join([str(archive.resolve()), str(stat.st_size), str(stat.st_mtime_ns), *members])
        key = cache_key(identity)
        target = download_cache(dl_manager) / "slip_unpacked" / key
        if target.is_dir():
            return target
        partial = target.with_name(f"{key}.incomplete-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            with zipfile.ZipFile(archive) as handle:
                for member in members:
                    handle.extract(member, partial)
            partial.rename(target)
        except OSError:
            if not target.is_dir():  # another process may have finished the same unpacking first
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return target


def check_columns(frame_columns: Iterable[str], required: Iterable[str], file_name: str) -> None:
    """Raise SourceFileError when a table lacks columns the builder reads."""
    missing = sorted(set(required) - set(frame_columns))
    if missing:
        raise SourceFileError(f"{file_name}: missing columns {missing}; is this the published file?")


def window_starts(length: int, size: int, step: int) -> range:
    """Start indices of full windows of ``size`` samples every ``step`` samples; a short tail is not a window."""
    if size <= 0 or step <= 0:
        raise ValueError(f"window size and step must be positive, got size={size}, step={step}")
    return range(0, max(length - size + 1, 0), step)


def subject_split(subjects: Iterable[str], test_fraction: float, seed: int = 0) -> set[str]:
    """Deterministic cross-subject split: the set of test subjects (at least one, never all)."""
    unique = sorted(set(subjects))
    if len(unique) < 2:
        raise ValueError(f"a subject-wise split needs at least two subjects, got {unique}")
    order = np.random.default_rng(seed).permutation(len(unique))
    n_test = min(max(1, round(test_fraction * len(unique))), len(unique) - 1)
    return {unique[i] for i in order[:n_test]}


def series_to_list(series: np.ndarray) -> list[list[float]]:
    """(C, T) array -> nested float32 lists, the schema's storage form."""
    return np.asarray(series, dtype=np.float32).tolist()
