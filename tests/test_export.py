"""Export: Parquet shards + a dataset card that load_dataset reads back, verified loading; the CLI."""

import hashlib
import os
import shutil
import stat

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from hub_datasets.__main__ import main
from hub_datasets.evaluation_sets import Ecg200
from hub_datasets.export import UnverifiedExportWarning, export_dataset, load_exported, verify_export
from hub_datasets.sources import SourceFileError


@pytest.fixture(scope="module")
def ecg200(tmp_path_factory):
    builder = Ecg200(cache_dir=str(tmp_path_factory.mktemp("ecg200")))
    builder.download_and_prepare()
    return builder.as_dataset()


def _card(path):
    text = (path / "README.md").read_text()
    return yaml.safe_load(text.split("---")[1]), text


def test_export_round_trips_through_load_dataset(tmp_path, ecg200):
    out = export_dataset(ecg200, tmp_path / "out", pretty_name="ECG200", card_text="Heartbeats.")
    metadata, text = _card(out)
    assert metadata["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "data/train-*"},
                {"split": "validation", "path": "data/validation-*"},
                {"split": "test", "path": "data/test-*"},
            ],
        }
    ]
    assert {s["name"]: s["num_examples"] for s in metadata["dataset_info"]["splits"]} == {
        "train": 80,
        "validation": 20,
        "test": 100,
    }
    assert "# ECG200" in text and "Heartbeats." in text
    loaded = datasets.load_dataset(str(out))
    assert loaded["test"].features == ecg200["test"].features
    assert loaded["test"]["label"] == ecg200["test"]["label"]
    assert loaded["train"]["series"][:3] == ecg200["train"]["series"][:3]


def test_export_shards_and_is_deterministic(tmp_path, ecg200):
    first = export_dataset(ecg200, tmp_path / "a", max_shard_bytes=20_000)
    second = export_dataset(ecg200, tmp_path / "b", max_shard_bytes=20_000)
    names = sorted(p.name for p in (first / "data").iterdir())
    assert "test-00000-of-00003.parquet" in names and len(names) > 3
    for name in names:
        assert (first / "data" / name).read_bytes() == (second / "data" / name).read_bytes()
    assert len(datasets.load_dataset(str(first), split="test")) == 100


def test_failed_export_leaves_previous_contents(tmp_path, ecg200):
    out = export_dataset(ecg200, tmp_path / "out")
    before = hashlib.sha256((out / "README.md").read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="DatasetDict"):
        export_dataset(ecg200["test"], out)
    assert hashlib.sha256((out / "README.md").read_bytes()).hexdigest() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_cli_builds_and_exports(tmp_path, capsys):
    out = tmp_path / "corpus"
    code = main(
        [
            "build", "slip_corpus", "--cache-dir", str(tmp_path / "cache"), "--export", str(out),
            "--config", "size=12", "--config", 'level_mix=["structural", "semantic"]',
            "--config", 'source_weights={"synthetic": 1, "forecasting": 1}',
        ]
    )  # fmt: skip
    assert code == 0
    assert "slip_corpus train: 12 rows" in capsys.readouterr().out
    metadata, text = _card(out)
    assert "| forecasting |" in text and metadata["configs"][0]["data_files"][0]["split"] == "train"
    assert len(datasets.load_dataset(str(out), split="train")) == 12


def test_cli_rejects_bad_config(tmp_path):
    with pytest.raises(SystemExit):
        main(["build", "ecg200", "--config", "no-equals-sign"])
    with pytest.raises(ValueError, match="validation_fraction"):
        main(["build", "ecg200", "--cache-dir", str(tmp_path), "--config", "validation_fraction=2"])


def _shards(out):
    return sorted((out / "data").iterdir())


def test_card_holds_a_sha256_manifest_and_shards_carry_page_checksums(tmp_path, ecg200):
    out = export_dataset(ecg200, tmp_path / "out", max_shard_bytes=20_000)
    metadata, _ = _card(out)
    assert metadata["slip_checksums"] == {
        f"data/{shard.name}": {
            "sha256": hashlib.sha256(shard.read_bytes()).hexdigest(),
            "num_bytes": shard.stat().st_size,
        }
        for shard in _shards(out)
    }
    shard = _shards(out)[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 10] ^= 0xFF  # inside the first data page
    shard.write_bytes(bytes(data))
    with pytest.raises(OSError, match="CRC"):
        pq.read_table(shard, page_checksum_verification=True)


def test_load_exported_round_trips(tmp_path, ecg200):
    out = export_dataset(ecg200, tmp_path / "out")
    loaded = load_exported(out, cache_dir=tmp_path / "cache")
    assert loaded["test"].features == ecg200["test"].features
    assert loaded["train"]["series"] == ecg200["train"]["series"]
    assert load_exported(out, split="test", cache_dir=tmp_path / "cache")["label"] == ecg200["test"]["label"]


@pytest.mark.parametrize("fraction", [0.05, 0.25, 0.5, 0.75])
def test_a_flipped_byte_is_named(tmp_path, ecg200, fraction):
    out = export_dataset(ecg200, tmp_path / "out", max_shard_bytes=20_000)
    shard = _shards(out)[1]
    data = bytearray(shard.read_bytes())
    data[int(len(data) * fraction)] ^= 0x01
    shard.write_bytes(bytes(data))
    with pytest.raises(SourceFileError, match=f"{shard.name}: SHA-256 .* does not match the exported"):
        load_exported(out, cache_dir=tmp_path / "cache")


def test_a_truncated_shard_is_named(tmp_path, ecg200):
    out = export_dataset(ecg200, tmp_path / "out")
    shard = _shards(out)[0]
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(SourceFileError, match=f"{shard.name}: [0-9]+ bytes, but [0-9]+ were exported"):
        load_exported(out, cache_dir=tmp_path / "cache")


def test_missing_and_unlisted_shards_are_named(tmp_path, ecg200):
    out = export_dataset(ecg200, tmp_path / "out")
    extra = out / "data" / "train-00009-of-00010.parquet"
    shutil.copy(_shards(out)[0], extra)
    with pytest.raises(
        SourceFileError, match="train-00009-of-00010.parquet: not listed in the slip_checksums"
    ):
        verify_export(out)
    extra.unlink()
    _shards(out)[0].unlink()
    with pytest.raises(SourceFileError, match="listed in the slip_checksums of README.md but missing"):
        verify_export(out)


def test_a_shard_changed_after_a_load_is_never_served_from_cache(tmp_path, ecg200):
    out = export_dataset(ecg200, tmp_path / "out")
    cache = tmp_path / "cache"
    assert load_exported(out, split="test", cache_dir=cache)["label"] == ecg200["test"]["label"]
    times = {shard: (shard.stat().st_atime_ns, shard.stat().st_mtime_ns) for shard in _shards(out)}
    flipped = 1 - np.asarray(ecg200["test"]["label"])
    relabelled = datasets.DatasetDict(
        {split: part.map(lambda row: {"label": 1 - row["label"]}) for split, part in ecg200.items()}
    )
    export_dataset(relabelled, out)  # same paths, same sizes; put the old times back, as a copy tool may
    for shard, stamp in times.items():
        os.utime(shard, ns=stamp)
    assert load_exported(out, split="test", cache_dir=cache)["label"] == flipped.tolist()
    shard = next(s for s in _shards(out) if s.name.startswith("test"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=times[shard])
    with pytest.raises(SourceFileError, match=shard.name):
        load_exported(out, split="test", cache_dir=cache)


def test_an_export_without_manifest_loads_with_a_warning(tmp_path, ecg200):
    out = export_dataset(ecg200, tmp_path / "out")
    card = out / "README.md"
    metadata, text = _card(out)
    del metadata["slip_checksums"]
    card.write_text("---\n" + yaml.safe_dump(metadata) + "---\n" + text.split("---", 2)[2])
    with pytest.warns(UnverifiedExportWarning, match="unverified"):
        assert (
            load_exported(out, split="test", cache_dir=tmp_path / "cache")["label"] == ecg200["test"]["label"]
        )
    card.unlink()  # a plain folder of Parquet files loads the same way
    with pytest.warns(UnverifiedExportWarning, match="unverified"):
        assert (
            load_exported(out, split="test", cache_dir=tmp_path / "cache")["label"] == ecg200["test"]["label"]
        )
    shard = _shards(out)[0]
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.warns(UnverifiedExportWarning), pytest.raises(SourceFileError, match=shard.name):
        load_exported(out, cache_dir=tmp_path / "cache")


def test_load_exported_needs_an_exported_folder(tmp_path):
    with pytest.raises(ValueError, match="snapshot_download"):
        load_exported(tmp_path / "org/some-dataset")


def test_export_folder_follows_the_umask(tmp_path, ecg200):
    previous = os.umask(0o022)
    try:
        out = export_dataset(ecg200, tmp_path / "out")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o644 for path in [out / "README.md", *_shards(out)])
