"""Two processes (gloo, CPU) train exactly like one process on the same global batch."""

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from datasets import Dataset
from safetensors.torch import load_file

from training_fixtures import caption_rows, tiny_model, tiny_processor
from training_slip import SlipPretrainingCollator, SlipTrainer, SlipTrainingArguments

STEPS = 3


def _train(output_dir: str, per_device_batch: int) -> None:
    rows = caption_rows(4 * STEPS)
    processor = tiny_processor(rows)
    model = tiny_model(cross_attention_dropout=0.0)
    args = SlipTrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=per_device_batch,
        max_steps=STEPS,
        # Plain SGD: updates are proportional to the gradients, so equal weights mean equal gradients (Adam
        # would turn float noise on near-zero gradients into full-size steps).
        optim="sgd",
        learning_rate=0.05,
        warmup_ratio=0.0,
        train_sampling_strategy="sequential",
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    trainer = SlipTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        data_collator=SlipPretrainingCollator(processor),
    )
    trainer.train()
    if trainer.is_world_process_zero():
        trainer.save_model(output_dir)
        losses = [log for log in trainer.state.log_history if "loss" in log]
        with open(os.path.join(output_dir, "losses.json"), "w") as handle:
            json.dump(losses, handle)


def _two_process_worker(rank: int, port: int, output_dir: str) -> None:
    """One rank, set up the way `torchrun` / `accelerate launch` set up theirs (gloo on CPU)."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2"
    )
    _train(output_dir, per_device_batch=2)


def _load(output_dir: str) -> tuple[dict, list[dict]]:
    weights = load_file(os.path.join(output_dir, "model.safetensors"))
    with open(os.path.join(output_dir, "losses.json")) as handle:
        return weights, json.load(handle)


@pytest.mark.slow
def test_two_processes_match_one_process_on_the_global_batch(tmp_path):
    single_dir, ddp_dir = str(tmp_path / "single"), str(tmp_path / "ddp")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Fresh (spawned) processes: forked ones would inherit this process's OpenMP pool and accelerate state.
    mp.start_processes(_two_process_worker, args=(port, ddp_dir), nprocs=2, start_method="spawn")
    _train(single_dir, per_device_batch=4)

    single_weights, single_losses = _load(single_dir)
    ddp_weights, ddp_losses = _load(ddp_dir)
    assert len(single_losses) == len(ddp_losses) == STEPS
    for one, two in zip(single_losses, ddp_losses):
        for key in ("loss", "contrastive_loss", "caption_loss"):
            assert two[key] == pytest.approx(one[key], rel=1e-3, abs=2e-4), key
    for name, value in single_weights.items():
        torch.testing.assert_close(ddp_weights[name], value, rtol=1e-5, atol=1e-6, msg=name)

    initial = tiny_model(cross_attention_dropout=0.0).state_dict()
    assert not torch.allclose(single_weights["pooler.queries"], initial["pooler.queries"], atol=1e-4)
