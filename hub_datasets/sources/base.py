"""What every source reader yields, and how readers find their data files without importing foreign code.

A source is one family of recordings the pretraining corpus may draw from (`sources.SOURCES`). Its reader
yields `Recording`s: a (C, L) float32 array plus the `SeriesDescription` the caption generator needs (channel
names, units, sampling interval, domain and device, and the label where the recording has one). Files shipped
inside registry packages are located with `importlib.util.find_spec`, which finds a package without running
it, so data-only packages (heartpy is GPL) never enter the process.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..captions import SeriesDescription


class SourceFileError(ValueError):
    """A source data file is missing, truncated or not in the expected format. The message names the file."""


class MissingSourceWarning(UserWarning):
    """A source family is read without one of its packages, so the corpus lacks that package's recordings."""


class MissingSourcePackageError(ImportError):
    """The registry package that ships a source's data is not installed. The message gives the pip command."""


@dataclass(frozen=True)
class Recording:
    """One contiguous, uniformly sampled recording with its caption metadata.

    Attributes:
        key: stable identifier, unique within the source ("hapt/subject01/exp01/run003"); window ids extend it.
        values: (C, L) float32; NaN marks a missing step.
        info: channel names, units, seconds per step, domain, device, description and label for captions.
        freq: the sampling frequency as a string `processing_slip` parses ("50Hz", "W", "MS").
    """

    key: str
    values: np.ndarray
    info: SeriesDescription
    freq: str

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"Recording {self.key!r}: values must be (C, L), got shape {self.values.shape}.")
        if len(self.info.channel_names) != self.values.shape[0]:
            raise ValueError(
                f"Recording {self.key!r}: {self.values.shape[0]} channels but "
                f"{len(self.info.channel_names)} channel names."
            )


Reader = Callable[[str | None], Iterator[Recording]]
"""A reader takes an optional directory holding the source's files (else the installed package's copy)."""


@dataclass(frozen=True)
class Source:
    """A source family of the pretraining allowlist, as listed in the README's table of sources."""

    name: str
    domain: str
    channels: str
    rate: str
    requirement: str
    reader: Reader

    def recordings(self, data_dir: str | None = None) -> Iterator[Recording]:
        return self.reader(data_dir)


def default_cache_dir() -> Path:
    """Where converted source arrays are cached: ``$SLIP_CACHE`` or ``~/.cache/slip``."""
    return Path(os.environ.get("SLIP_CACHE", Path.home() / ".cache" / "slip"))


def cached_arrays(
    name: str, compute: Callable[[], dict[str, np.ndarray]], cache_dir: str | os.PathLike | None = None
) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, stored once as ``<cache>/<name>.npz`` and loaded from there afterwards.

    The file is written under a temporary name and renamed, so an interrupted run never leaves a partial cache.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / f"{name}.npz"
    if not target.is_file():
        arrays = compute()
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache, suffix=".npz.tmp", delete=False) as handle:
            tmp = Path(handle.name)
            np.savez(handle, **arrays)
        os.replace(tmp, target)
    with np.load(target, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def package_dir(module: str, requirement: str) -> Path:
    """Directory of an installed package, found without importing it.

    Raises:
        MissingSourcePackageError: naming the pip requirement that provides ``module``.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingSourcePackageError(
            f"This source reads data shipped in the {requirement!r} package, which is not installed: "
            f"pip install {requirement!r}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def data_file(
    name: str, data_dir: str | os.PathLike | None, module: str, requirement: str, *parts: str
) -> Path:
    """Path of a source file: ``data_dir/name`` when a directory is given, else inside the installed package.

    Raises:
        SourceFileError: when the file does not exist (the message names it).
    """
    path = (
        Path(data_dir) / name
        if data_dir is not None
        else package_dir(module, requirement).joinpath(*parts, name)
    )
    if not path.is_file():
        raise SourceFileError(f"Source file {name!r} not found at {path}.")
    return path


def as_channels_first(values: np.ndarray, path: Path) -> np.ndarray:
    """(L, C) table -> (C, L) float32, rejecting empty tables with an error naming the file."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape[0] == 0:
        raise SourceFileError(f"Source file {path} holds no samples (parsed shape {values.shape}).")
    return np.ascontiguousarray(values.T)


def read_installed(
    readers: tuple[Reader, ...], data_dir: str | None, requirements: tuple[str, ...]
) -> Iterator[Recording]:
    """Recordings of every reader whose package is installed; warns about each one that is not (the `sources`
    extra installs them all) and raises only when none of them is."""
    found = False
    for reader in readers:
        try:
            recordings = list(reader(data_dir))
        except MissingSourcePackageError as error:
            warnings.warn(f"Skipping {reader.__name__}: {error}", MissingSourceWarning, stacklevel=2)
            continue
        found = True
        yield from recordings
    if not found:
        raise MissingSourcePackageError(
            "None of this source's packages is installed: pip install " + " ".join(requirements)
        )
