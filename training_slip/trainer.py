"""`Trainer` for SLIP: the paper's optimiser defaults, both loss terms and the logit scale in the logs."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import Trainer, TrainingArguments

LOGGED_OUTPUTS = ("contrastive_loss", "caption_loss", "logit_scale")


@dataclass
class SlipTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the SLIP paper's defaults (AdamW (0.9, 0.95), wd 0.05, lr 2e-4 cosine with
    warmup, grad clip 1.0). Rows hold raw series, so the collator, not Trainer, picks the columns."""

    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate (paper: 2e-4)."})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay (paper: 0.05)."})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2 (paper: 0.95)."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Scheduler (paper: cosine)."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Linear warmup fraction."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping (paper: 1.0)."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep raw columns: the SLIP collators need series, freq and text."}
    )
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={"help": "Batch series of similar token counts together (uses the `length` column)."},
    )


class SlipTrainer(Trainer):
    """Logs the contrastive and caption losses and the logit scale beside the total loss, averaged over the
    steps since the last log and over processes; keeps the logit scale out of weight decay."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._component_sums: dict[str, torch.Tensor] = {}
        self._component_steps = 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if model.training:
            for name in LOGGED_OUTPUTS:
                value = outputs.get(name) if isinstance(outputs, dict) else getattr(outputs, name, None)
                if value is not None:
                    value = value.detach().float().mean()
                    self._component_sums[name] = self._component_sums.get(name, 0.0) + value
            self._component_steps += 1
        return (loss, outputs) if return_outputs else loss

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
            name for name in super().get_decay_parameter_names(model) if name.rsplit(".", 1)[-1] not in excluded
        ]
