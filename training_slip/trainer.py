"""`Trainer` for SLIP: the paper's optimiser defaults, both loss terms and the logit scale in the logs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from transformers import Trainer, TrainingArguments
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, TrainOutput, rotate_checkpoints

from modeling_slip.losses import caption_target_count, weighted_loss

from .checkpoints import STAGING_DIR, clear_staging, publish_checkpoint, resolve_resume_checkpoint

LOGGED_OUTPUTS = ("contrastive_loss", "caption_loss", "logit_scale")


@dataclass
class SlipTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the SLIP paper's defaults (AdamW (0.9, 0.95), wd 0.05, lr 2e-4 cosine with
    warmup, grad clip 1.0). Rows hold raw series, so the collator, not Trainer, picks the columns.

    Batches are random by default. `train_sampling_strategy="group_by_length"` (the datasets carry the `length`
    column it needs) cuts padding, but it also makes each batch homogeneous (one source, near-identical
    captions), which starves the contrastive loss of informative negatives: in a tiny-preset run the
    contrastive loss stayed at chance for 75 steps with it while it fell with random batches."""

    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate (paper: 2e-4)."})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay (paper: 0.05)."})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2 (paper: 0.95)."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Scheduler (paper: cosine)."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Linear warmup fraction."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping (paper: 1.0)."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep raw columns: the SLIP collators need series, freq and text."}
    )
    dataloader_pin_memory: bool = field(
        default=torch.cuda.is_available(),
        metadata={"help": "Pin batches in page-locked memory: only useful (and only quiet) with a GPU."},
    )


class SlipTrainer(Trainer):
    """Logs the contrastive and caption losses and the logit scale beside the total loss, averaged over the
    steps since the last log and over processes; keeps the logit scale out of weight decay.

    Across processes the loss equals the single-process loss on the global batch: the contrastive term already
    sees the global batch (embeddings gathered with gradient), and the caption term, a mean over this rank's
    tokens, is reweighted by this rank's share of the global token count before DDP averages the gradients.

    Checkpoints are written whole or not at all, and resuming skips a torn one (see `training_slip.checkpoints`).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._component_sums: dict[str, torch.Tensor] = {}
        self._component_steps = 0
        self._staging = False
        self._push_pending = False

    def train(
        self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any
    ) -> TrainOutput:
        """`Trainer.train`; resuming (True, "True" or "last") starts from the newest complete checkpoint, and a
        given checkpoint is checked complete first, so a torn checkpoint is never loaded."""
        checkpoint = resolve_resume_checkpoint(resume_from_checkpoint, self.args.output_dir)
        return super().train(checkpoint, *args, **kwargs)

    def _get_output_dir(self, trial: Any) -> str:
        """The run folder; while `_save_checkpoint` stages a checkpoint, the staging folder inside it, so every
        file `Trainer` writes for the checkpoint lands there."""
        run_dir = super()._get_output_dir(trial)
        return os.path.join(run_dir, STAGING_DIR) if self._staging else run_dir

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        """`Trainer._save_checkpoint` into the staging folder, then `_publish` it: a kill at any moment leaves the
        previous checkpoints or the new one, never a torn `checkpoint-N`."""
        run_dir = super()._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staged, final = os.path.join(run_dir, STAGING_DIR, name), os.path.join(run_dir, name)
        if self.args.should_save:
            clear_staging(run_dir)
        self.accelerator.wait_for_everyone()
        self._staging = True
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging = False
        self._point_best_checkpoint_to(staged, final)
        self._publish(run_dir, staged, final)

    def _publish(self, run_dir: str, staged: str, final: str) -> None:
        """Once every process has written its files (RNG states), rename the staged checkpoint to its final name,
        push it if asked, and only then rotate older checkpoints out, so the newest complete one always stays.
        The main process renames and rotates; the others wait for it."""
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            publish_checkpoint(staged, final)
        self.accelerator.wait_for_everyone()
        if self._push_pending:
            self._push_pending = False
            self._push_from_checkpoint(final)
        if self.args.should_save:
            rotate_checkpoints(
                output_dir=run_dir,
                save_total_limit=self.args.save_total_limit,
                best_model_checkpoint=self.state.best_model_checkpoint,
                use_mtime=True,
            )

    def _point_best_checkpoint_to(self, staged: str, final: str) -> None:
        """`Trainer` records the best checkpoint's folder as it saves it: record the published one instead, in
        the state and in the staged `trainer_state.json`."""
        if self.state.best_model_checkpoint != staged:
            return
        self.state.best_model_checkpoint = final
        if self.args.should_save:
            self.state.save_to_json(os.path.join(staged, TRAINER_STATE_NAME))

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        """`Trainer` pushes a checkpoint as it saves it; a staged one is pushed once published under its name."""
        if self._staging:
            self._push_pending = True
        else:
            super()._push_from_checkpoint(checkpoint_folder)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(
            model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch
        )
        logged = {name: outputs.get(name) for name in LOGGED_OUTPUTS}
        if model.training and self.accelerator.num_processes > 1 and logged["caption_loss"] is not None:
            logged["caption_loss"] = outputs["caption_loss"] * self._global_token_share(inputs["labels"])
            config = self.accelerator.unwrap_model(model).config
            loss = weighted_loss(logged["caption_loss"], logged["contrastive_loss"], config)
        if model.training:
            for name, value in logged.items():
                if value is not None:
                    self._component_sums[name] = (
                        self._component_sums.get(name, 0.0) + value.detach().float().mean()
                    )
            self._component_steps += 1
        return (loss, outputs) if return_outputs else loss

    def _global_token_share(self, labels: torch.Tensor) -> torch.Tensor:
        """This rank's caption tokens x world size / all ranks' caption tokens: the factor that turns this rank's
        token mean into its part of the global token mean once DDP averages over ranks."""
        local_tokens = caption_target_count(labels).float()
        global_tokens = self.accelerator.reduce(local_tokens.clone(), reduction="sum")
        return local_tokens * self.accelerator.num_processes / global_tokens

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._component_steps:
            for name, total in self._component_sums.items():
                mean = self.accelerator.reduce(total / self._component_steps, reduction="mean")
                logs[name] = round(float(mean), 4)
            self._component_sums, self._component_steps = {}, 0
        super().log(logs, start_time)

    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        excluded = set(getattr(model, "no_weight_decay_parameter_names", list)())
        return [
            name
            for name in super().get_decay_parameter_names(model)
            if name.rsplit(".", 1)[-1] not in excluded
        ]
