"""What counts as a complete checkpoint, which one resuming picks, and how a staged checkpoint is published."""

import json
import logging
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from safetensors.torch import save_file

from training_fixtures import caption_rows, tiny_model, tiny_processor
from training_slip import SlipPretrainingCollator, SlipTrainer, SlipTrainingArguments
from training_slip.checkpoints import (
    STAGING_DIR,
    checkpoint_problem,
    last_complete_checkpoint,
    publish_checkpoint,
    resolve_resume_checkpoint,
)


def _complete_checkpoint(folder: Path, step: int) -> Path:
    """The files `Trainer` writes for a checkpoint, small: config, weights, optimizer, scheduler, RNG, state."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "slip"}))
    save_file({"weight": torch.arange(64, dtype=torch.float32)}, folder / "model.safetensors")
    torch.save({"state": {0: {"exp_avg": torch.ones(64)}}}, folder / "optimizer.pt")
    torch.save({"last_epoch": step}, folder / "scheduler.pt")
    torch.save({"cpu": torch.random.get_rng_state()}, folder / "rng_state.pth")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def _cut(file: Path, keep: float) -> None:
    """Keep the first ``keep`` share of ``file``'s bytes, as a write killed midway leaves it."""
    data = file.read_bytes()
    file.write_bytes(data[: int(len(data) * keep)])


def _empty(folder: Path) -> None:
    for file in folder.iterdir():
        file.unlink()


def _weights_only(folder: Path) -> None:
    for file in folder.iterdir():
        if file.name not in {"config.json", "model.safetensors"}:
            file.unlink()


TEARS = {
    "empty folder": (_empty, "no trainer_state.json"),
    "weights only": (_weights_only, "no trainer_state.json"),
    "0-byte config": (lambda folder: _cut(folder / "config.json", 0), "config.json is empty"),
    "0-byte optimizer": (lambda folder: _cut(folder / "optimizer.pt", 0), "optimizer.pt is empty"),
    "cut optimizer": (lambda folder: _cut(folder / "optimizer.pt", 0.5), "optimizer.pt is not a complete"),
    "cut weights": (lambda folder: _cut(folder / "model.safetensors", 0.5), "model.safetensors is not a"),
    "cut state": (
        lambda folder: _cut(folder / "trainer_state.json", 0.5),
        "trainer_state.json does not parse",
    ),
    "no config": (lambda folder: (folder / "config.json").unlink(), "no config.json"),
    "no weights": (lambda folder: (folder / "model.safetensors").unlink(), "no model weights"),
}


def test_a_checkpoint_with_every_file_whole_is_complete(tmp_path):
    assert checkpoint_problem(_complete_checkpoint(tmp_path / "checkpoint-2", 2)) is None


@pytest.mark.parametrize("tear", TEARS)
def test_a_torn_checkpoint_is_named_with_what_is_wrong(tear, tmp_path):
    damage, problem = TEARS[tear]
    folder = _complete_checkpoint(tmp_path / "checkpoint-2", 2)
    damage(folder)
    assert problem in checkpoint_problem(folder)


def test_a_missing_weight_shard_makes_a_checkpoint_incomplete(tmp_path):
    folder = _complete_checkpoint(tmp_path / "checkpoint-2", 2)
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    shards = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": shards}))
    assert "model-00002-of-00002.safetensors" in checkpoint_problem(folder)


def test_resuming_skips_torn_checkpoints_with_a_warning_and_picks_the_last_complete_one(tmp_path, caplog):
    _complete_checkpoint(tmp_path / "checkpoint-2", 2)
    (tmp_path / "checkpoint-4").mkdir()
    _cut(_complete_checkpoint(tmp_path / "checkpoint-6", 6) / "optimizer.pt", 0)
    _weights_only(_complete_checkpoint(tmp_path / "checkpoint-10", 10))

    with caplog.at_level(logging.WARNING, logger="training_slip.checkpoints"):
        assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")

    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3
    assert "checkpoint-10: it has no trainer_state.json" in warnings[0]  # newest first: 10 before 6
    assert "checkpoint-6: optimizer.pt is empty" in warnings[1]
    assert "checkpoint-4: it has no trainer_state.json" in warnings[2]


@pytest.mark.parametrize("value", [True, "True", "true", "last"])
def test_resume_true_resolves_to_the_last_complete_checkpoint(value, tmp_path):
    _complete_checkpoint(tmp_path / "checkpoint-2", 2)
    _complete_checkpoint(tmp_path / "checkpoint-4", 4)
    (tmp_path / "checkpoint-6").mkdir()
    assert resolve_resume_checkpoint(value, tmp_path) == str(tmp_path / "checkpoint-4")


@pytest.mark.parametrize("value", [None, False])
def test_no_resume_resolves_to_none(value, tmp_path):
    _complete_checkpoint(tmp_path / "checkpoint-2", 2)
    assert resolve_resume_checkpoint(value, tmp_path) is None


def test_resume_true_without_a_complete_checkpoint_is_an_error(tmp_path):
    (tmp_path / "checkpoint-2").mkdir()
    with pytest.raises(ValueError, match="no complete checkpoint in"):
        resolve_resume_checkpoint(True, tmp_path)


def test_resuming_from_a_given_torn_checkpoint_is_an_error_naming_the_problem(tmp_path):
    folder = _complete_checkpoint(tmp_path / "checkpoint-2", 2)
    _cut(folder / "optimizer.pt", 0)
    with pytest.raises(ValueError, match="checkpoint-2 is not a complete checkpoint: optimizer.pt is empty"):
        resolve_resume_checkpoint(str(folder), tmp_path)


def test_publishing_replaces_an_earlier_folder_of_the_same_step_whole(tmp_path):
    old = _complete_checkpoint(tmp_path / "checkpoint-2", 2)
    (old / "stale.txt").write_text("from an earlier run")
    staged = _complete_checkpoint(tmp_path / STAGING_DIR / "checkpoint-2", 2)

    publish_checkpoint(staged, old)

    assert not (old / "stale.txt").exists() and checkpoint_problem(old) is None
    assert not (tmp_path / STAGING_DIR).exists()


def test_saving_leaves_only_published_checkpoints_and_points_the_best_one_at_its_final_folder(tmp_path):
    rows = caption_rows(12)
    processor = tiny_processor(rows)
    args = SlipTrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        max_steps=4,
        save_steps=2,
        eval_strategy="steps",
        eval_steps=2,
        metric_for_best_model="loss",
        save_total_limit=1,
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    trainer = SlipTrainer(
        model=tiny_model(),
        args=args,
        train_dataset=Dataset.from_list(rows[:8]),
        eval_dataset=Dataset.from_list(rows[8:]),
        data_collator=SlipPretrainingCollator(processor),
    )
    trainer.train()

    best = trainer.state.best_model_checkpoint
    assert Path(best).parent == tmp_path and Path(best).name in {"checkpoint-2", "checkpoint-4"}
    assert sorted(path.name for path in tmp_path.glob("checkpoint-*")) == sorted(
        {"checkpoint-4", Path(best).name}
    )
    saved_state = json.loads((tmp_path / Path(best).name / "trainer_state.json").read_text())
    assert saved_state["best_model_checkpoint"] == best
    assert not (tmp_path / STAGING_DIR).exists()
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")
