"""Bad rows in a training dataset stop the run before the first step, named by their row; or are dropped on
request, counted in the log. An exported corpus is verified against its checksums as it loads."""

import logging
import math

import pytest
from datasets import Dataset, DatasetDict

from hub_datasets.schema import QA_FEATURES
from hub_datasets.sources.base import SourceFileError
from training_fixtures import caption_rows, export_corpus, tiny_pretraining_arguments
from training_slip import pretraining
from training_slip.finetuning import FinetuningArguments, load_qa_splits
from training_slip.pretraining import load_corpus_splits, run_pretraining

BAD_ROWS = {5: "infinite value", 9: "no finite value", 14: "ragged channels"}
"""Row index in the corpus -> the problem its series has."""


def _corrupt(row: dict, problem: str) -> dict:
    steps = len(row["series"][0])
    series = {
        "infinite value": [[1.0] * (steps - 1) + [math.inf]],
        "no finite value": [[math.nan] * steps],
        "ragged channels": [[0.5] * steps, [0.5] * (steps - 3)],
    }[problem]
    return {**row, "series": series}


def _rows_with_bad_ones(count: int) -> list[dict]:
    rows = caption_rows(count)
    for index, problem in BAD_ROWS.items():
        rows[index] = _corrupt(rows[index], problem)
    return rows


@pytest.fixture
def bad_corpus(tmp_path):
    return export_corpus(_rows_with_bad_ones(27), tmp_path / "corpus")


def test_bad_rows_stop_pretraining_before_the_model_is_built_naming_the_first_row(
    bad_corpus, tmp_path, monkeypatch
):
    def no_model(*args):
        pytest.fail("the model was built: the corpus was not validated up front")

    monkeypatch.setattr(pretraining, "build_model", no_model)
    with pytest.raises(ValueError) as error:
        run_pretraining(*tiny_pretraining_arguments(bad_corpus, str(tmp_path / "run"), max_steps=2))

    message = str(error.value)
    assert message.startswith(f"{bad_corpus}: Row 5 of the dataset is invalid: it holds an infinite value")
    for index, problem in BAD_ROWS.items():
        assert f"{problem}: 1 rows ({index})" in message
    assert "--drop_invalid_rows" in message


def test_with_drop_invalid_rows_pretraining_runs_and_the_log_says_how_many_rows_were_dropped(
    bad_corpus, tmp_path, caplog
):
    arguments = tiny_pretraining_arguments(
        bad_corpus, str(tmp_path / "run"), drop_invalid_rows=True, max_steps=2
    )
    with caplog.at_level(logging.WARNING, logger="training_slip.data"):
        trainer, _ = run_pretraining(*arguments)

    assert trainer.state.global_step == 2
    assert f"{bad_corpus}: dropped 3 invalid rows of 27, kept 24." in caplog.messages
    assert len(trainer.train_dataset) + len(trainer.eval_dataset) == 24


def test_an_exported_corpus_with_a_changed_shard_fails_to_load_naming_the_file(tmp_path):
    corpus = export_corpus(caption_rows(8), tmp_path / "corpus")
    shard = next((tmp_path / "corpus" / "data").glob("*.parquet"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))

    arguments = tiny_pretraining_arguments(corpus, str(tmp_path / "run"))[1]
    with pytest.raises(SourceFileError, match=shard.name):
        load_corpus_splits(arguments, seed=0)


def _qa_rows(count: int) -> list[dict]:
    return [
        {
            "id": str(index),
            "series": row["series"],
            "channel_names": [],
            "freq": row["freq"],
            "task": "qa",
            "question": "Does the signal rise?",
            "choices": ["yes", "no"],
            "answer": "yes",
            "rationale": "",
        }
        for index, row in enumerate(caption_rows(count))
    ]


@pytest.fixture
def qa_splits_with_a_bad_test_row(monkeypatch):
    test = _qa_rows(6)
    test[3] = _corrupt(test[3], "no finite value")
    splits = DatasetDict(
        {
            "train": Dataset.from_list(_qa_rows(8), features=QA_FEATURES),
            "test": Dataset.from_list(test, features=QA_FEATURES),
        }
    )
    monkeypatch.setattr("hub_datasets.build", lambda name, **kwargs: splits)


def test_bad_rows_stop_finetuning_naming_the_split_and_row(qa_splits_with_a_bad_test_row):
    with pytest.raises(ValueError, match="slip_synthetic_qa test split: Row 3 of the dataset is invalid"):
        load_qa_splits(FinetuningArguments(model_name_or_path="unused"))


def test_with_drop_invalid_rows_finetuning_leaves_the_bad_rows_out(qa_splits_with_a_bad_test_row, caplog):
    with caplog.at_level(logging.WARNING, logger="training_slip.data"):
        splits = load_qa_splits(FinetuningArguments(model_name_or_path="unused", drop_invalid_rows=True))

    assert (len(splits["train"]), len(splits["test"])) == (8, 5)
    assert "3" not in splits["test"]["id"]
    assert "slip_synthetic_qa test split: dropped 1 invalid rows of 6, kept 5." in caplog.messages
