"""Export a built dataset as Parquet shards plus a dataset card, the layout `push_to_hub` writes; load it back
verified.

``<dir>/data/<split>-<i>-of-<n>.parquet`` and ``<dir>/README.md`` whose YAML header holds ``configs:`` (the
data files of every split), ``dataset_info:`` (features, including label names, and split sizes) and
``slip_checksums:`` (each shard's SHA-256 and size). So ``datasets.load_dataset(dir)`` reads it with the right
features, and uploading the folder to a Hub dataset repository (``HfApi.upload_folder``) publishes it with no
loading code. Shards are cut by row count and written in row order with Parquet page checksums, so the same
dataset always gives byte-identical files.

`load_exported` is the verified way back: `verify_export` checks every shard against the manifest first,
naming the file that fails, and refuses data files the manifest does not list; the ``datasets`` cache is then
keyed by the files' digests, so a shard that changed after an earlier load is never served from that load's
cache. A folder exported before manifests were written loads with an `UnverifiedExportWarning`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData
from huggingface_hub.repocard import metadata_load
from tqdm.auto import tqdm

from .integrity import cache_key, file_digest
from .sources.base import SourceFileError

DATA_DIR = "data"
CARD = "README.md"
CHECKSUMS_KEY = "slip_checksums"
"""Card YAML key of the manifest: data file path (relative, POSIX) -> {"sha256": hex, "num_bytes": size}."""
DEFAULT_MAX_SHARD_BYTES = 500 * 2**20


class UnverifiedExportWarning(UserWarning):
    """An exported folder has no checksum manifest, so its files are loaded without being verified."""


def _num_shards(dataset: datasets.Dataset, max_shard_bytes: int) -> int:
    return max(1, math.ceil(dataset.data.nbytes / max_shard_bytes))


def export_dataset(
    dataset: datasets.DatasetDict,
    out_dir: str | Path,
    *,
    config_name: str = "default",
    pretty_name: str = "",
    card_text: str = "",
    license: str | None = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> Path:
    """Write ``dataset`` (all splits) to ``out_dir`` as Parquet shards and a README.md dataset card.

    ``out_dir`` is replaced only once everything is written (built in a temporary sibling folder first),
    so a failed export leaves the previous contents untouched.

    Args:
        card_text: Markdown body of the card (what the data is, sources, licences, how it was built).
        max_shard_bytes: upper bound on a shard's in-memory Arrow size.
    """
    if not isinstance(dataset, datasets.DatasetDict) or not dataset:
        raise ValueError("export_dataset needs a non-empty datasets.DatasetDict (split name -> Dataset).")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}-{uuid.uuid4().hex}"
    staging.mkdir()  # unlike tempfile.mkdtemp (0700) it honours the umask: as readable as any other file
    try:
        data_files = _write_shards(dataset, staging, max_shard_bytes)
        _write_card(dataset, staging, data_files, config_name, pretty_name, card_text, license)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _write_shards(dataset: datasets.DatasetDict, root: Path, max_shard_bytes: int) -> dict[str, str]:
    (root / DATA_DIR).mkdir()
    data_files = {}
    plan = {split: _num_shards(part, max_shard_bytes) for split, part in dataset.items()}
    with tqdm(total=sum(plan.values()), desc="Writing Parquet shards", unit="shard") as progress:
        for split, part in dataset.items():
            for index in range(plan[split]):
                shard = part.shard(plan[split], index, contiguous=True)
                shard.to_parquet(
                    root / DATA_DIR / f"{split}-{index:05d}-of-{plan[split]:05d}.parquet",
                    write_page_checksum=True,  # a CRC per page, for readers that verify them
                )
                progress.update()
            data_files[split] = f"{DATA_DIR}/{split}-*"
    return data_files


def _manifest(root: Path) -> dict[str, dict[str, str | int]]:
    """SHA-256 and size of every data file under ``root``, keyed by its path relative to ``root``."""
    return {
        path.relative_to(root).as_posix(): {"sha256": file_digest(path), "num_bytes": path.stat().st_size}
        for path in sorted((root / DATA_DIR).rglob("*"))
        if path.is_file()
    }


def _write_card(
    dataset: datasets.DatasetDict,
    root: Path,
    data_files: Mapping[str, str],
    config_name: str,
    pretty_name: str,
    card_text: str,
    license: str | None,
) -> None:
    first = next(iter(dataset.values()))
    info = datasets.DatasetInfo(features=first.features, description=first.info.description)
    info.splits = datasets.SplitDict()
    for split, part in dataset.items():
        info.splits.add(datasets.SplitInfo(name=split, num_examples=len(part), num_bytes=part.data.nbytes))
    card_data = DatasetCardData(
        pretty_name=pretty_name or None, license=license, **{CHECKSUMS_KEY: _manifest(root)}
    )
    MetadataConfigs(
        {config_name: {"data_files": [{"split": split, "path": path} for split, path in data_files.items()]}}
    ).to_dataset_card_data(card_data)
    DatasetInfosDict({config_name: info}).to_dataset_card_data(card_data)
    title = f"# {pretty_name}\n\n" if pretty_name else ""
    DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n{title}{card_text.strip()}\n").save(root / CARD)


def verify_export(path: str | os.PathLike) -> dict[str, str]:
    """Check an exported folder before anything reads it; return the SHA-256 of each of its files.

    With a manifest (``slip_checksums`` in the card), every listed file must exist with its size and SHA-256,
    and every file under ``data/`` must be listed. Without one (a folder exported before manifests were
    written, or not by `export_dataset`), every Parquet file must at least have a readable footer, and an
    `UnverifiedExportWarning` says the contents are unverified.

    Returns:
        {path relative to the folder: SHA-256} of every file but hidden ones, the card included: the
        identity `load_exported` keys its cache by.

    Raises:
        SourceFileError: naming the file that is missing, truncated, changed, unlisted or unreadable.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValueError(
            f"{root} is not a local folder; pass the folder export_dataset wrote, or download a Hub dataset "
            "first: huggingface_hub.snapshot_download(repo_id, repo_type='dataset')."
        )
    manifest = _read_manifest(root)
    digests = {file.relative_to(root).as_posix(): file_digest(file) for file in _visible_files(root)}
    if manifest is None:
        warnings.warn(
            f"{root} has no {CHECKSUMS_KEY} manifest in a {CARD} dataset card, so its data files are loaded "
            "unverified; export the dataset again with hub_datasets.export.export_dataset to add one.",
            UnverifiedExportWarning,
            stacklevel=2,
        )
        _check_parquet_footers(root)
    else:
        _check_against_manifest(root, manifest, digests)
    return digests


def load_exported(
    path: str | os.PathLike, split: str | None = None, *, cache_dir: str | os.PathLike | None = None
) -> datasets.Dataset | datasets.DatasetDict:
    """``datasets.load_dataset(path, split=split)`` for an exported folder, verified first (`verify_export`).

    The ``datasets`` cache lives under ``<cache_dir>/slip_exports/<key>``, the key being a digest of every
    file's SHA-256: a folder whose files changed gets a fresh cache and is never served an earlier load's.

    Args:
        cache_dir: root of the ``datasets`` cache (default: the ``datasets`` default, ``HF_DATASETS_CACHE``).
    """
    digests = verify_export(path)
    key = cache_key(json.dumps(digests, sort_keys=True))
    root = Path(cache_dir) if cache_dir is not None else Path(datasets.config.HF_DATASETS_CACHE)
    return datasets.load_dataset(str(path), split=split, cache_dir=str(root / "slip_exports" / key))


def _visible_files(root: Path) -> list[Path]:
    """Every file under ``root`` outside hidden folders (``.cache/`` of a Hub download, ``.git/``)."""
    return sorted(
        file
        for file in root.rglob("*")
        if file.is_file() and not any(part.startswith(".") for part in file.relative_to(root).parts)
    )


def _read_manifest(root: Path) -> dict[str, dict] | None:
    """The card's manifest, None without one; a malformed one raises SourceFileError naming the card."""
    if not (root / CARD).is_file():
        return None
    try:
        metadata = metadata_load(root / CARD) or {}
    except yaml.YAMLError as error:
        raise SourceFileError(f"{root / CARD}: the YAML header does not parse ({error}).") from error
    manifest = metadata.get(CHECKSUMS_KEY) if isinstance(metadata, dict) else None
    if manifest is None:
        return None
    well_formed = isinstance(manifest, dict) and all(
        isinstance(name, str)
        and not Path(name).is_absolute()
        and ".." not in Path(name).parts
        and isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("num_bytes"), int)
        for name, entry in manifest.items()
    )
    if not well_formed:
        raise SourceFileError(
            f"{root / CARD}: {CHECKSUMS_KEY} must map each data file's relative path to its sha256 and "
            "num_bytes; export the dataset again to rewrite it."
        )
    return manifest


def _check_against_manifest(root: Path, manifest: Mapping[str, Mapping], digests: Mapping[str, str]) -> None:
    for name, entry in sorted(manifest.items()):
        file = root / name
        if name not in digests:
            raise SourceFileError(f"{file}: listed in the {CHECKSUMS_KEY} of {CARD} but missing.")
        size = file.stat().st_size
        if size != entry["num_bytes"]:
            raise SourceFileError(
                f"{file}: {size} bytes, but {entry['num_bytes']} were exported; the file is truncated or was "
                "changed. Export or download the dataset again."
            )
        if digests[name] != entry["sha256"]:
            raise SourceFileError(
                f"{file}: SHA-256 {digests[name]} does not match the exported {entry['sha256']}; the file is "
                "corrupt or was changed. Export or download the dataset again."
            )
    unlisted = sorted(name for name in digests if name.startswith(f"{DATA_DIR}/") and name not in manifest)
    if unlisted:
        raise SourceFileError(
            f"{root / unlisted[0]}: not listed in the {CHECKSUMS_KEY} of {CARD}, so it would be loaded "
            f"unverified (unlisted: {unlisted}); remove it, or export the dataset again."
        )


def _check_parquet_footers(root: Path) -> None:
    """Without a manifest, at least name a truncated or foreign Parquet file before ``datasets`` reads it."""
    for file in sorted(root.rglob("*.parquet")):
        try:
            pq.read_metadata(file)
        except (OSError, pa.ArrowException) as error:
            raise SourceFileError(f"{file}: not a readable Parquet file ({error}).") from error
