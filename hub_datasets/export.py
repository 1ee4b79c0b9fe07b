"""Export a built dataset as Parquet shards plus a dataset card, the layout `push_to_hub` writes.

``<dir>/data/<split>-<i>-of-<n>.parquet`` and ``<dir>/README.md`` whose YAML header holds ``configs:`` (the
data files of every split) and ``dataset_info:`` (features, including label names, and split sizes). So
``datasets.load_dataset(dir)`` reads it with the right features, and uploading the folder to a Hub dataset
repository (``HfApi.upload_folder``) publishes it with no loading code. Shards are cut by row count and
written in row order, so the same dataset always gives byte-identical files.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import datasets
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData
from tqdm.auto import tqdm

DATA_DIR = "data"
DEFAULT_MAX_SHARD_BYTES = 500 * 2**20


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
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
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
                shard.to_parquet(root / DATA_DIR / f"{split}-{index:05d}-of-{plan[split]:05d}.parquet")
                progress.update()
            data_files[split] = f"{DATA_DIR}/{split}-*"
    return data_files


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
    card_data = DatasetCardData(pretty_name=pretty_name or None, license=license)
    MetadataConfigs(
        {config_name: {"data_files": [{"split": split, "path": path} for split, path in data_files.items()]}}
    ).to_dataset_card_data(card_data)
    DatasetInfosDict({config_name: info}).to_dataset_card_data(card_data)
    title = f"# {pretty_name}\n\n" if pretty_name else ""
    DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n{title}{card_text.strip()}\n").save(root / "README.md")
