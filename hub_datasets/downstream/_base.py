"""Download, verification and windowing shared by every downstream and finetuning builder.

Each builder names its raw files as :class:`SourceFile` (the file name as published, its URL and, where
it is known, its checksum). Files come from ``data_dir`` when the user passes one (already downloaded raw
files, as the tests do) and from ``dl_manager.download`` otherwise. Every file is verified before it is
parsed: by checksum where one is known, else by size and archive integrity. A bad file raises
:class:`SourceFileError` naming it. ``datasets`` prepares into ``<cache>.incomplete`` and only renames on
success, so a failure never leaves a partial dataset behind; archives that must be unpacked for a reader
that wants real paths (``wfdb``) are unpacked the same way, into a temporary folder renamed on success.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import os
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import datasets
import numpy as np

_CHUNK = 1 << 20


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
        checksum: hex digest of the published file, or None where no published digest is known
            (then size and archive integrity are checked instead).
        algorithm: ``hashlib`` name of the digest (PhysioNet and MNE publish SHA1 for Sleep-EDF).
    """

    name: str
    url: str
    checksum: str | None = None
    algorithm: str = "sha256"


class SourceConfig(datasets.BuilderConfig):
    """BuilderConfig with a checksum override, so a mirror or a re-release can be verified too.

    Args:
        checksums: file name -> hex digest (same algorithm as the SourceFile) replacing the built-in one.
    """

    def __init__(self, *args, checksums: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.checksums = dict(checksums or {})


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    if path.suffix.lower() == ".zip":
        _check_zip(path, source.name)
    elif source.name.endswith((".tar.gz", ".tgz")):
        _check_tar(path, source.name)


def _check_zip(path: Path, name: str) -> None:
    """Open the archive and CRC-check every member (catches truncation when no checksum is known)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise SourceFileError(f"{name}: not a readable zip archive ({error}); download it again.") from error
    if bad is not None:
        raise SourceFileError(f"{name}: member {bad!r} fails its CRC check; the archive is corrupt.")


def _check_tar(path: Path, name: str) -> None:
    """Read the whole compressed tar stream (gzip's CRC and length catch truncation)."""
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile():
                    archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise SourceFileError(f"{name}: not a readable tar archive ({error}); download it again.") from error


class DownstreamBuilder(datasets.GeneratorBasedBuilder, abc.ABC):
    """Base builder: resolves, verifies and (when a reader needs paths) unpacks the raw files."""

    BUILDER_CONFIG_CLASS = SourceConfig

    @abc.abstractmethod
    def source_files(self) -> Sequence[SourceFile]:
        """The raw files this configuration needs."""

    def fetch_sources(self, dl_manager: datasets.DownloadManager) -> dict[str, Path]:
        """Return ``{file name: verified local path}`` for every source file."""
        sources = list(self.source_files())
        if self.config.data_dir:
            data_dir = Path(self.config.data_dir)
            paths = {source.name: data_dir / source.name for source in sources}
        else:
            downloaded = dl_manager.download({source.name: source.url for source in sources})
            paths = {name: Path(path) for name, path in downloaded.items()}
        for source in sources:
            expected = self.config.checksums.get(source.name, source.checksum)
            verify_file(paths[source.name], source, expected)
        return paths

    def unpack(self, dl_manager: datasets.DownloadManager, archive: Path, members: Iterable[str]) -> Path:
        """Unpack ``members`` of a verified zip into the download cache; atomic (temp folder, then rename).

        The target is keyed on the archive's path, size, modification time and the members, so a replaced
        archive is unpacked afresh rather than served from a stale folder.
        """
        members = sorted(members)
        stat = archive.stat()
        identity = "|".join([str(archive.resolve()), str(stat.st_size), str(stat.st_mtime_ns), *members])
        key = hashlib.sha256(identity.encode()).hexdigest()[:24]
        cache_root = Path(dl_manager.download_config.cache_dir or datasets.config.DOWNLOADED_DATASETS_PATH)
        target = cache_root / "slip_unpacked" / key
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
        partial = target.with_name(f"{key}.incomplete-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            with zipfile.ZipFile(archive) as handle:
                for member in members:
                    handle.extract(member, partial)
            partial.rename(target)
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
