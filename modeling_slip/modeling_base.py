"""`SlipPreTrainedModel`: what both SLIP models share.

The towers (sensor encoder, attention pooler, text tower, projections, logit scale) and the features they give,
weight initialisation, the paper's freezing policy, building the text tower from a pretrained Gemma-3, saving
with `auto_map`, and the renames that keep checkpoints of earlier versions loading.

Training with `Trainer`: `accepts_loss_kwargs = False`, so Trainer never passes `num_items_in_batch` and
scales the loss for gradient accumulation itself; both losses are per-batch means (the contrastive term over
the global batch across processes). `model.no_weight_decay_parameter_names()` names the parameters to keep out
of weight decay (`SlipTrainer` does).
"""

from __future__ import annotations

import os
import re
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers import Gemma3ForCausalLM, PreTrainedModel
from transformers import initialization as init
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.gemma3.modeling_gemma3 import (
    Gemma3RotaryEmbedding,
    Gemma3TextScaledWordEmbedding,
)

from .attention_pooler import SlipAttentionPooler
from .configuration_slip import SlipConfig
from .flex_mlp import SlipFlexMLP
from .metadata_copy import FOLLOW_WEIGHT_INIT, SlipMetadataCopyHead
from .sensor_encoder import SlipSensorEncoder, SlipSensorEncoderOutput
from .text_tower import (
    SLIP_TEXT_PREFIX,
    SlipTextTransformer,
    SlipTextTransformerOutput,
    gemma3_to_slip_state_dict,
    last_token_indices,
)

SAVED_KEY_RENAMES = {r"(cross_attention_layers\.\d+\.cross_attn)\.o_proj\.": r"\1.out_proj."}
"""Saved key pattern -> module key. Checkpoints name the output projection of the decoder's cross-attention
`o_proj` (its name before the decoder shared the package's one attention module, which calls it `out_proj`).
`from_pretrained` renames on load and `save_pretrained` back on save, so the saved format never changed;
`load_state_dict` (as Trainer uses to resume) renames through `_rename_saved_keys`."""

register_checkpoint_conversion_mapping(
    SlipConfig.model_type,
    [WeightRenaming(saved, module) for saved, module in SAVED_KEY_RENAMES.items()],
    overwrite=True,
)


def _rename_saved_keys(
    module: nn.Module, state_dict: dict[str, torch.Tensor], prefix: str, *args: Any
) -> None:
    """`load_state_dict` pre-hook: saved key names -> module key names (`SAVED_KEY_RENAMES`), in place."""
    for key in [key for key in state_dict if key.startswith(prefix)]:
        renamed = key
        for saved, current in SAVED_KEY_RENAMES.items():
            renamed = re.sub(saved, current, renamed)
        if renamed != key:
            state_dict[renamed] = state_dict.pop(key)


class SlipPreTrainedModel(PreTrainedModel):
    """Base of `SlipModel` and `SlipForConditionalGeneration`: both build the same towers (`_init_towers`) and
    so load each other's checkpoints."""

    config_class = SlipConfig
    config: SlipConfig
    # The models hold their towers at the top level, not under a base-model attribute.
    base_model_prefix = ""
    main_input_name = "sensor_values"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _no_split_modules = [
        "SlipSensorEncoderLayer",
        "SlipAttentionPooler",
        "Gemma3DecoderLayer",
        "SlipCrossAttentionLayer",
    ]
    _skip_keys_device_placement = ["cache", "past_key_values"]
    # Losses are per-batch means; Trainer handles gradient accumulation (see module docstring).
    accepts_loss_kwargs = False

    def __init__(self, config: SlipConfig, *inputs: Any, **kwargs: Any):
        super().__init__(config, *inputs, **kwargs)
        # PreTrainedModel resolves the backend of the top-level config only. A tower whose own config names none
        # runs that one; a tower given its own (`attn_implementation={"text_config": "eager"}`) keeps it.
        for tower_config in (config.sensor_config, config.text_config):
            if tower_config._attn_implementation is None:
                tower_config._attn_implementation_internal = config._attn_implementation
        self.register_load_state_dict_pre_hook(_rename_saved_keys)

    def _init_towers(self, num_text_layers: int) -> None:
        """The modules of a SLIP model; the text tower holds Gemma layers [0, num_text_layers)."""
        config = self.config
        width = config.text_config.hidden_size
        self.sensor_model = SlipSensorEncoder(config.sensor_config)
        self.pooler = SlipAttentionPooler(config)
        self.sensor_projection = nn.Linear(width, config.projection_dim, bias=False)
        self.text_model = SlipTextTransformer(config, num_layers=num_text_layers)
        self.text_projection = nn.Linear(width, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        std = self.config.text_config.initializer_range
        if "RMSNorm" in module.__class__.__name__:
            # Gemma-3 RMSNorm scales by (1 + weight): zero is the identity.
            init.zeros_(module.weight)
        elif isinstance(module, Gemma3TextScaledWordEmbedding):
            init.constant_(module.embed_scale, module.scalar_embed_scale)
        elif isinstance(module, Gemma3RotaryEmbedding):
            for layer_type, rope_type in module.rope_type.items():
                rope_init_fn = (
                    module.compute_default_rope_parameters
                    if rope_type == "default"
                    else ROPE_INIT_FUNCTIONS[rope_type]
                )
                inv_freq, _ = rope_init_fn(module.config, layer_type=layer_type)
                init.copy_(getattr(module, f"{layer_type}_inv_freq"), inv_freq)
                init.copy_(getattr(module, f"{layer_type}_original_inv_freq"), inv_freq)
        elif isinstance(module, SlipAttentionPooler):
            init.normal_(module.queries, mean=0.0, std=std)
        elif isinstance(module, SlipFlexMLP):
            init.copy_(module.input_map_table, module.build_input_map_table())
        elif isinstance(module, SlipMetadataCopyHead):
            init.constant_(module.follow_weight, FOLLOW_WEIGHT_INIT)
        elif isinstance(module, SlipPreTrainedModel):
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)
            # Runs after the children's init (and modules without own parameters are never visited), so the
            # zero-init of the cross-attention output projections is done here.
            if module.text_model.with_decoder and self.config.zero_init_cross_attention:
                for layer in module.text_model.cross_attention_layers:
                    init.zeros_(layer.cross_attn.out_proj.weight)
                    if layer.cross_attn.out_proj.bias is not None:
                        init.zeros_(layer.cross_attn.out_proj.bias)

    def freeze_text_tower(self) -> None:
        """Apply the paper's freezing policy from the config: token embeddings (and with them a tied LM head)
        if `freeze_text_embeddings`, and text layers [0, num_frozen_text_layers). Everything else (last
        encoder layers, decoder, cross-attention, projections, sensor side) stays trainable. Called at init;
        undo with `model.requires_grad_(True)`."""
        self.text_model.embed_tokens.requires_grad_(not self.config.freeze_text_embeddings)
        for idx, layer in enumerate(self.text_model.layers):
            layer.requires_grad_(idx >= self.config.num_frozen_text_layers)

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_model.embed_tokens = value

    def no_weight_decay_parameter_names(self) -> list[str]:
        """Parameters to exclude from weight decay besides norms and biases (which Trainer already excludes)."""
        return ["logit_scale"]

    def _output_flags(
        self, output_attentions: bool | None, output_hidden_states: bool | None
    ) -> tuple[bool, bool]:
        """The forward's output flags, falling back to the config's, as transformers models do."""
        return (
            self.config.output_attentions if output_attentions is None else output_attentions,
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states,
        )

    def scaled_logit_scale(self) -> torch.Tensor:
        """exp(logit_scale) clamped at `config.logit_scale_max` (CLIP: 100)."""
        return self.logit_scale.exp().clamp(max=self.config.logit_scale_max)

    def _encode_sensor(
        self,
        sensor_values: torch.Tensor | None,
        sensor_mask: torch.Tensor | None,
        sensor_time: torch.Tensor | None,
        patch_size: torch.Tensor | None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        sensor_token_index: torch.Tensor | None = None,
    ) -> tuple[SlipSensorEncoderOutput, torch.Tensor]:
        """Sensor encoder + pooler: (encoder output, pooled (B, 1 + num_caption_queries, width)).

        `sensor_token_index` (`packing.sensor_token_index`) runs the encoder on the valid tokens only."""
        if any(tensor is None for tensor in (sensor_values, sensor_mask, sensor_time, patch_size)):
            raise ValueError(
                "Pass all four sensor inputs (sensor_values, sensor_mask, sensor_time, patch_size), e.g. "
                "model(**processor(series, freq=...))."
            )
        sensor_output = self.sensor_model(
            sensor_values,
            sensor_mask,
            sensor_time,
            patch_size,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            token_index=sensor_token_index,
        )
        pooled = self.pooler(sensor_output.last_hidden_state, sensor_output.token_mask)
        return sensor_output, pooled

    def _sensor_embeds(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.sensor_projection(pooled[:, 0]), dim=-1)

    def _text_embeds(
        self,
        text_output: SlipTextTransformerOutput,
        attention_mask: torch.Tensor | None,
        cu_seq_lens_q: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The projected, L2-normalised encoder state at each caption's embedding token (`TEXT_LAYOUTS`): its last
        token, or the one before in the reference layout. Packed captions (1, N) end at `cu_seq_lens_q[1:] - 1`."""
        hidden = text_output.text_hidden_state
        if cu_seq_lens_q is not None:
            position, lengths = cu_seq_lens_q[1:].long() - 1, cu_seq_lens_q.diff()
            hidden = hidden[0]
        else:
            position = last_token_indices(attention_mask, hidden.shape[0], hidden.shape[1], hidden.device)
            lengths = attention_mask.sum(dim=1) if attention_mask is not None else None
        if self.config.text_layout == "reference":
            if lengths is not None:
                torch._assert_async(
                    (lengths >= 2).all(),
                    "text_layout='reference' reads the token before the last one: every caption needs at least "
                    "two tokens (<bos> and one more).",
                )
            position = position - 1
        rows = torch.arange(len(position), device=hidden.device)
        pooled = hidden[position] if cu_seq_lens_q is not None else hidden[rows, position]
        return F.normalize(self.text_projection(pooled), dim=-1)

    @staticmethod
    def _check_batch(sensor_batch: int, text_batch: int) -> None:
        if sensor_batch != text_batch:
            raise ValueError(
                f"The sensor inputs hold {sensor_batch} samples but the text inputs {text_batch}; pass one "
                "caption per sample."
            )

    def _contrastive_logits(
        self, sensor_embeds: torch.Tensor, text_embeds: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale = self.scaled_logit_scale()
        logits_per_text = scale * text_embeds @ sensor_embeds.t()
        return scale, logits_per_text.t(), logits_per_text

    def get_sensor_features(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
        metadata_ids: torch.Tensor | None = None,
        metadata_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, projection_dim) L2-normalised sensor embeddings (zero-shot classification, retrieval). Series
        metadata (`SlipConfig.series_metadata`) is for the decoder: it is accepted, so that a processor's output
        passes whole, and not read."""
        _, pooled = self._encode_sensor(sensor_values, sensor_mask, sensor_time, patch_size)
        return self._sensor_embeds(pooled)

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, projection_dim) L2-normalised text embeddings from the encoder layers at each row's last
        attended token (EOS); left or right padding both work."""
        text_output = self.text_model(input_ids=input_ids, attention_mask=attention_mask, run_decoder=False)
        return self._text_embeds(text_output, attention_mask)

    def get_mean_token_features(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
        metadata_ids: torch.Tensor | None = None,
        metadata_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, sensor hidden_size) mean of the encoder's valid tokens: the linear-probing feature. Series metadata
        is accepted and not read, as in `get_sensor_features`."""
        sensor_output = self.sensor_model(sensor_values, sensor_mask, sensor_time, patch_size)
        weights = sensor_output.token_mask.to(sensor_output.last_hidden_state.dtype).unsqueeze(-1)
        return (sensor_output.last_hidden_state * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> Any:
        """Save as usual (safetensors); a registered model also maps both SLIP Auto classes in `auto_map`, so a
        CoCa checkpoint loads as the dual encoder with `AutoModel` under `trust_remote_code` too."""
        if self._auto_class is not None:
            module = type(self).__module__.split(".")[-1]
            self.config.auto_map = {
                **(getattr(self.config, "auto_map", None) or {}),
                "AutoModel": f"{module}.SlipModel",
                "AutoModelForCausalLM": f"{module}.SlipForConditionalGeneration",
            }
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_text_pretrained(
        cls,
        path_or_model: str | os.PathLike | Gemma3ForCausalLM,
        split_layer: int = 12,
        **config_overrides: Any,
    ) -> SlipPreTrainedModel:
        """Build a SLIP model whose text tower is a pretrained Gemma-3 causal LM of any size.

        `path_or_model` is a local `Gemma3ForCausalLM` checkpoint directory or an in-memory model; its config
        becomes `SlipConfig.text_config`. `config_overrides` go to `SlipConfig` (e.g. `sensor_config=...`,
        `zero_init_cross_attention=True`). Weights map by `gemma3_to_slip_state_dict` ("model." ->
        "text_model."); sensor side, projections and cross-attention are freshly initialised.
        """
        if isinstance(path_or_model, (str, os.PathLike)):
            language_model = Gemma3ForCausalLM.from_pretrained(path_or_model)
        elif isinstance(path_or_model, Gemma3ForCausalLM):
            language_model = path_or_model
        else:
            raise ValueError(
                "path_or_model must be a Gemma3ForCausalLM or the path of a saved one, got "
                f"{type(path_or_model).__name__}."
            )
        text_config = language_model.config.__class__.from_dict(language_model.config.to_dict())
        config = SlipConfig(text_config=text_config, split_layer=split_layer, **config_overrides)
        model = cls(config)
        weights = gemma3_to_slip_state_dict(language_model.state_dict())
        own = model.state_dict()
        fresh = SLIP_TEXT_PREFIX + "cross_attention_layers."
        text_keys = {key for key in own if key.startswith(SLIP_TEXT_PREFIX) and not key.startswith(fresh)}
        missing = sorted(text_keys - weights.keys())
        if missing:
            raise ValueError(f"The Gemma-3 checkpoint lacks text-tower weights: {missing[:5]}...")
        # SlipModel keeps only the encoder layers: the decoder layers, final norm and LM head are not needed.
        model.load_state_dict({key: value for key, value in weights.items() if key in own}, strict=False)
        model.freeze_text_tower()
        return model


def count_parameters(model: SlipPreTrainedModel) -> dict[str, int]:
    """Parameter counts by part (works on the meta device): sensor encoder, pooler and sensor projection,
    text side (embeddings, text layers, cross-attention, text projection, untied LM head) total and trainable,
    and the whole model. Tied weights count once."""

    def count(params, trainable_only: bool = False) -> int:
        unique = {id(p): p for p in params if p.requires_grad or not trainable_only}
        return sum(p.numel() for p in unique.values())

    text_params = list(model.text_model.parameters()) + list(model.text_projection.parameters())
    if getattr(model, "lm_head", None) is not None:
        text_params += list(model.lm_head.parameters())
    sensor_side = list(model.pooler.parameters()) + list(model.sensor_projection.parameters())
    return {
        "sensor_encoder": count(model.sensor_model.parameters()),
        "pooler_and_sensor_projection": count(sensor_side),
        "text_total": count(text_params),
        "text_trainable": count(text_params, trainable_only=True),
        "total": count(model.parameters()),
        "trainable": count(model.parameters(), trainable_only=True),
    }
