"""Export: Parquet shards + dataset card that load_dataset reads back; the CLI end to end."""

import hashlib

import datasets
import pytest
import yaml

from hub_datasets.__main__ import main
from hub_datasets.evaluation_sets import Ecg200
from hub_datasets.export import export_dataset


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
