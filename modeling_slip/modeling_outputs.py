"""Outputs of the SLIP models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.cache_utils import Cache
from transformers.utils import ModelOutput

from .sensor_encoder import SlipSensorEncoderOutput
from .text_tower import SlipTextTransformerOutput

TOWER_OUTPUTS = ("text_model_output", "sensor_model_output")


class _TowerOutputsAsTuples(ModelOutput):
    """`to_tuple` flattens the nested tower outputs too, as `CLIPOutput` does."""

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(self[k] if k not in TOWER_OUTPUTS else getattr(self, k).to_tuple() for k in self.keys())


@dataclass
class SlipOutput(_TowerOutputsAsTuples):
    """Output of `SlipModel.forward`.

    loss: symmetric CLIP loss (when `return_loss`). logits_per_sensor (B_sensor, B_text) and its transpose
    logits_per_text: scaled cosine similarities. text_embeds / sensor_embeds: (B, projection_dim), L2-normalised.
    """

    loss: torch.Tensor | None = None
    logits_per_sensor: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    sensor_embeds: torch.Tensor | None = None
    text_model_output: SlipTextTransformerOutput | None = None
    sensor_model_output: SlipSensorEncoderOutput | None = None


@dataclass
class SlipForConditionalGenerationOutput(_TowerOutputsAsTuples):
    """Output of `SlipForConditionalGeneration.forward`.

    loss = contrastive_loss_weight * contrastive_loss + caption_loss_weight * caption_loss (the terms that were
    computed). logits: (B, T, vocab) caption logits (None when the forward skipped them, as in training).
    sensor_context: the tokens the decoder attended to: the pooled sensor tokens, then any metadata states
        (`SlipConfig.series_metadata`; their key mask is `metadata_attention_mask` flattened).
    """

    loss: torch.Tensor | None = None
    contrastive_loss: torch.Tensor | None = None
    caption_loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    logits_per_sensor: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    sensor_embeds: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    logit_scale: torch.Tensor | None = None
    cache: Cache | None = None
    sensor_context: torch.Tensor | None = None
    text_model_output: SlipTextTransformerOutput | None = None
    sensor_model_output: SlipSensorEncoderOutput | None = None
