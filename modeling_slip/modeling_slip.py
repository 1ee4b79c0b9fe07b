"""SLIP models: `SlipModel` (dual encoder, like `CLIPModel`) and `SlipForConditionalGeneration` (CoCa).

Module names are shared by both classes (`sensor_model`, `pooler`, `sensor_projection`, `text_model`,
`text_projection`, `logit_scale`; the generation model adds decoder layers, `text_model.cross_attention_layers`
and `lm_head`), so each class loads the other's checkpoint.

Training with `Trainer`: `accepts_loss_kwargs = False`, so Trainer never passes `num_items_in_batch` and
scales the loss for gradient accumulation itself; both losses are per-batch means (the contrastive term over
the global batch across processes). Exclude `logit_scale` from weight decay with
`model.no_weight_decay_parameter_names()`, e.g. in `Trainer.get_decay_parameter_names`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers import Gemma3ForCausalLM, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.gemma3.modeling_gemma3 import (
    Gemma3RotaryEmbedding,
    Gemma3TextScaledWordEmbedding,
)
from transformers.utils import ModelOutput

from .attention_pooler import SlipAttentionPooler
from .configuration_slip import SlipConfig
from .losses import IGNORE_INDEX, caption_loss, clip_loss
from .sensor_encoder import SlipSensorEncoder, SlipSensorEncoderOutput
from .text_tower import (
    CACHE_ARGUMENT,
    SLIP_TEXT_PREFIX,
    SlipTextTransformer,
    SlipTextTransformerOutput,
    gemma3_to_slip_state_dict,
    last_token_indices,
)


@dataclass
class SlipOutput(ModelOutput):
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

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(
            self[k] if k not in ("text_model_output", "sensor_model_output") else getattr(self, k).to_tuple()
            for k in self.keys()
        )


@dataclass
class SlipForConditionalGenerationOutput(ModelOutput):
    """Output of `SlipForConditionalGeneration.forward`.

    loss = contrastive_loss_weight * contrastive_loss + caption_loss_weight * caption_loss (the terms that were
    computed). logits: (B, T, vocab) caption logits (None when the forward skipped them, as in training).
    sensor_context: the pooled sensor tokens the decoder attended to (reused by `generate`).
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

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(
            self[k] if k not in ("text_model_output", "sensor_model_output") else getattr(self, k).to_tuple()
            for k in self.keys()
        )


class SlipPreTrainedModel(PreTrainedModel):
    """Weight init, freezing policy and `from_text_pretrained` shared by the SLIP models."""

    config_class = SlipConfig
    config: SlipConfig
    base_model_prefix = "slip"
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
        # PreTrainedModel resolves the attention backend on the top-level config only; the Gemma layers, the
        # cross-attention and the sensor encoder read their sub-configs, so hand it down (the setter recurses).
        self.config._attn_implementation = self.config._attn_implementation

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
        elif isinstance(module, SlipModel):
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)
            # Runs after the children's init (and modules without own parameters are never visited), so the
            # zero-init of the cross-attention output projections is done here.
            if module.has_decoder and self.config.zero_init_cross_attention:
                for layer in module.text_model.cross_attention_layers:
                    init.zeros_(layer.cross_attn.o_proj.weight)
                    init.zeros_(layer.cross_attn.o_proj.bias)

    def freeze_text_tower(self) -> None:
        """Apply the paper's freezing policy from the config: token embeddings (and with them a tied LM head)
        if `freeze_text_embeddings`, and text layers [0, num_frozen_text_layers). Everything else (last
        encoder layers, decoder, cross-attention, projections, sensor side) stays trainable. Called at init;
        undo with `model.requires_grad_(True)`."""
        self.text_model.embed_tokens.requires_grad_(not self.config.freeze_text_embeddings)
        for idx, layer in enumerate(self.text_model.layers):
            layer.requires_grad_(idx >= self.config.num_frozen_text_layers)

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> Any:
        """Save as usual (safetensors); a registered model also maps both SLIP Auto classes in `auto_map`, so a
        CoCa checkpoint loads as the dual encoder with `AutoModel` under `trust_remote_code` too."""
        if self._auto_class is not None:
            self.config.auto_map = {
                **(getattr(self.config, "auto_map", None) or {}),
                "AutoModel": f"{SlipModel.__module__.split('.')[-1]}.{SlipModel.__name__}",
                "AutoModelForCausalLM": (
                    f"{SlipForConditionalGeneration.__module__.split('.')[-1]}.{SlipForConditionalGeneration.__name__}"
                ),
            }
        return super().save_pretrained(save_directory, *args, **kwargs)

    def no_weight_decay_parameter_names(self) -> list[str]:
        """Parameters to exclude from weight decay besides norms and biases (which Trainer already excludes)."""
        return ["logit_scale"]

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


class SlipModel(SlipPreTrainedModel):
    """Dual encoder: sensor encoder -> attention pooler (query 0) -> projection, and the text encoder layers
    -> EOS state -> projection; both L2-normalised; learnable temperature."""

    has_decoder = False

    def __init__(self, config: SlipConfig):
        super().__init__(config)
        width = config.text_config.hidden_size
        self.sensor_model = SlipSensorEncoder(config.sensor_config)
        self.pooler = SlipAttentionPooler(config)
        self.sensor_projection = nn.Linear(width, config.projection_dim, bias=False)
        self.text_model = SlipTextTransformer(config, with_decoder=self.has_decoder)
        self.text_projection = nn.Linear(width, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        if self.has_decoder:
            self.lm_head = nn.Linear(width, config.text_config.vocab_size, bias=False)
        else:
            # A SlipForConditionalGeneration checkpoint loads into SlipModel without its decoder.
            decoder_layers = "|".join(
                str(i) for i in range(config.split_layer, config.text_config.num_hidden_layers)
            )
            self._keys_to_ignore_on_load_unexpected = [
                rf"^text_model\.layers\.({decoder_layers})\.",
                r"^text_model\.(cross_attention_layers|norm)\.",
                r"^lm_head\.",
            ]
        self.post_init()
        self.freeze_text_tower()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_model.embed_tokens = value

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
    ) -> tuple[SlipSensorEncoderOutput, torch.Tensor]:
        """Sensor encoder + pooler: (encoder output, pooled (B, 1 + num_caption_queries, width))."""
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
        )
        pooled = self.pooler(sensor_output.last_hidden_state, sensor_output.token_mask)
        return sensor_output, pooled

    def _sensor_embeds(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.sensor_projection(pooled[:, 0]), dim=-1)

    def _text_embeds(self, text_output: SlipTextTransformerOutput, attention_mask: torch.Tensor | None):
        hidden = text_output.text_hidden_state
        eos = last_token_indices(attention_mask, hidden.shape[0], hidden.shape[1], hidden.device)
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), eos]
        return F.normalize(self.text_projection(pooled), dim=-1)

    @staticmethod
    def _check_batch(sensor_batch: int, text_batch: int) -> None:
        if sensor_batch != text_batch:
            raise ValueError(
                f"The sensor inputs hold {sensor_batch} samples but the text inputs {text_batch}; pass one "
                "caption per sample."
            )

    def get_sensor_features(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
    ) -> torch.Tensor:
        """(B, projection_dim) L2-normalised sensor embeddings (zero-shot classification, retrieval)."""
        _, pooled = self._encode_sensor(sensor_values, sensor_mask, sensor_time, patch_size)
        return self._sensor_embeds(pooled)

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, projection_dim) L2-normalised text embeddings from the encoder layers at each row's last
        attended token (EOS); left or right padding both work."""
        text_output = self.text_model(input_ids=input_ids, attention_mask=attention_mask, run_decoder=False)
        return self._text_embeds(text_output, attention_mask)

    def get_patch_features(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
    ) -> torch.Tensor:
        """(B, sensor hidden_size) mean of the encoder's valid tokens: the linear-probing feature."""
        sensor_output = self.sensor_model(sensor_values, sensor_mask, sensor_time, patch_size)
        weights = sensor_output.token_mask.to(sensor_output.last_hidden_state.dtype).unsqueeze(-1)
        return (sensor_output.last_hidden_state * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

    def _contrastive_logits(
        self, sensor_embeds: torch.Tensor, text_embeds: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale = self.scaled_logit_scale()
        logits_per_text = scale * text_embeds @ sensor_embeds.t()
        return scale, logits_per_text.t(), logits_per_text

    def forward(
        self,
        sensor_values: torch.Tensor | None = None,
        sensor_mask: torch.Tensor | None = None,
        sensor_time: torch.Tensor | None = None,
        patch_size: torch.Tensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        return_loss: bool = True,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> SlipOutput:
        """Embed both modalities; with `return_loss`, the symmetric CLIP loss over the (global) batch.

        `output_attentions` returns the sensor encoder's attention maps (the text tower's are not collected).
        """
        if input_ids is None:
            raise ValueError(
                "SlipModel.forward needs input_ids (the captions); for sensor-only use get_sensor_features."
            )
        if sensor_values is not None:
            self._check_batch(sensor_values.shape[0], input_ids.shape[0])
        sensor_output, pooled = self._encode_sensor(
            sensor_values, sensor_mask, sensor_time, patch_size, output_attentions, output_hidden_states
        )
        text_output = self.text_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            run_decoder=False,
            output_hidden_states=output_hidden_states,
        )
        sensor_embeds = self._sensor_embeds(pooled)
        text_embeds = self._text_embeds(text_output, attention_mask)
        scale, logits_per_sensor, logits_per_text = self._contrastive_logits(sensor_embeds, text_embeds)
        loss = clip_loss(sensor_embeds, text_embeds, scale) if return_loss else None
        return SlipOutput(
            loss=loss,
            logits_per_sensor=logits_per_sensor,
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            sensor_embeds=sensor_embeds,
            text_model_output=text_output,
            sensor_model_output=sensor_output,
        )


class SlipForConditionalGeneration(SlipModel, GenerationMixin):
    """CoCa: the dual encoder plus the multimodal decoder (Gemma layers [split_layer, N) each followed by
    cross-attention to the pooled sensor tokens) and a tied LM head. One forward over a caption gives the
    contrastive and the caption loss.

    Supervised finetuning (QA, captioning): pass `contrastive=False` to `forward` (or set
    `config.contrastive_loss_weight = 0`) to skip the text embedding and the contrastive term; pass `labels`
    with -100 on prompt and padding tokens.
    """

    has_decoder = True
    _tied_weights_keys = {"lm_head.weight": "text_model.embed_tokens.weight"}

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.lm_head = value

    def get_sensor_context(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
    ) -> torch.Tensor:
        """The pooled sensor tokens the decoder cross-attends to: (B, num_caption_queries, width), or all
        1 + num_caption_queries if `config.caption_uses_contrastive_query`."""
        _, pooled = self._encode_sensor(sensor_values, sensor_mask, sensor_time, patch_size)
        return self._caption_context(pooled)

    def _caption_context(self, pooled: torch.Tensor) -> torch.Tensor:
        return pooled if self.config.caption_uses_contrastive_query else pooled[:, 1:]

    def _vocab_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        logits = self.lm_head(hidden_states)
        softcap = self.config.text_config.final_logit_softcapping
        if softcap is not None:
            logits = torch.tanh(logits / softcap) * softcap
        return logits

    def forward(
        self,
        sensor_values: torch.Tensor | None = None,
        sensor_mask: torch.Tensor | None = None,
        sensor_time: torch.Tensor | None = None,
        patch_size: torch.Tensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        sensor_context: torch.Tensor | None = None,
        use_cache: bool | None = None,
        return_loss: bool = True,
        contrastive: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        skip_logits: bool | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        past_key_values: Cache | None = None,
        **kwargs: Any,
    ) -> SlipForConditionalGenerationOutput:
        """Caption logits and, with `return_loss`, the weighted sum of the contrastive and caption losses.

        Sensor inputs are the four processor tensors, or `sensor_context` (pooled tokens from
        `get_sensor_context`, as `generate` passes them). `contrastive` (default: sensor inputs given, no KV
        cache in use and `config.contrastive_loss_weight > 0`) controls the text embedding and CLIP term.
        The caption loss is next-token CE on `labels`, or on `input_ids` with padding (attention_mask == 0)
        ignored when no labels are given. `skip_logits` (default: in training mode with `return_loss`) returns no
        `logits` and projects to the vocabulary only the positions the caption loss scores: a training step
        needs the loss, not (B, T, vocab) logits, most of which belong to padding and prompts.
        `output_attentions` returns the sensor encoder's attention maps (the text tower's are not collected);
        other keyword arguments go to the Gemma attention layers.
        `past_key_values` is the KV cache's name in transformers < 5.24 (its `generate` passes it so).
        """
        cache = cache if cache is not None else past_key_values
        text_batch = (input_ids if input_ids is not None else inputs_embeds).shape[0]
        sensor_output = None
        sensor_embeds = None
        if sensor_context is None:
            if sensor_values is not None:
                self._check_batch(sensor_values.shape[0], text_batch)
            sensor_output, pooled = self._encode_sensor(
                sensor_values, sensor_mask, sensor_time, patch_size, output_attentions, output_hidden_states
            )
            sensor_embeds = self._sensor_embeds(pooled)
            sensor_context = self._caption_context(pooled)
        else:
            self._check_batch(sensor_context.shape[0], text_batch)
        if contrastive is None:
            contrastive = (
                sensor_embeds is not None and cache is None and self.config.contrastive_loss_weight > 0
            )
        if contrastive and sensor_embeds is None:
            raise ValueError(
                "contrastive=True needs the raw sensor inputs, not a precomputed sensor_context."
            )
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config.text_config)

        text_output = self.text_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            sensor_context=sensor_context,
            run_decoder=True,
            output_hidden_states=output_hidden_states,
            **kwargs,
        )
        hidden_states = text_output.last_hidden_state
        if skip_logits is None:
            skip_logits = self.training and return_loss
        if skip_logits and not return_loss:
            raise ValueError("skip_logits=True leaves nothing to return without return_loss=True.")
        logits = None
        if not skip_logits:
            if isinstance(logits_to_keep, int):
                kept = hidden_states[:, -logits_to_keep:] if logits_to_keep else hidden_states
            else:
                kept = hidden_states[:, logits_to_keep]
            logits = self._vocab_logits(kept)

        text_embeds = logits_per_sensor = logits_per_text = scale = None
        if contrastive:
            text_embeds = self._text_embeds(text_output, attention_mask)
            scale, logits_per_sensor, logits_per_text = self._contrastive_logits(sensor_embeds, text_embeds)

        loss = contrastive_term = caption_term = None
        if return_loss:
            if labels is None:
                if input_ids is None:
                    raise ValueError("Pass labels to compute the caption loss from inputs_embeds.")
                labels = (
                    input_ids
                    if attention_mask is None
                    else input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
                )
            scored = hidden_states if logits is None else logits
            if labels.shape != scored.shape[:2]:
                raise ValueError(
                    f"labels must have shape {tuple(scored.shape[:2])} (one per caption token), got "
                    f"{tuple(labels.shape)}; computing a loss also needs logits_to_keep=0."
                )
            caption_term = caption_loss(scored, labels, head=self._vocab_logits if logits is None else None)
            loss = self.config.caption_loss_weight * caption_term
            if contrastive:
                contrastive_term = clip_loss(sensor_embeds, text_embeds, scale)
                loss = loss + self.config.contrastive_loss_weight * contrastive_term

        return SlipForConditionalGenerationOutput(
            loss=loss,
            contrastive_loss=contrastive_term,
            caption_loss=caption_term,
            logits=logits,
            logits_per_sensor=logits_per_sensor,
            logits_per_text=logits_per_text,
            sensor_embeds=sensor_embeds,
            text_embeds=text_embeds,
            logit_scale=scale,
            cache=text_output.cache,
            sensor_context=sensor_context,
            text_model_output=text_output,
            sensor_model_output=sensor_output,
        )

    def _update_model_kwargs_for_generation(
        self,
        outputs: SlipForConditionalGenerationOutput,
        model_kwargs: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Hand our `cache` output to the next decoding step under the name this transformers' `generate` uses
        (before 5.24 it only looks for `past_key_values`)."""
        model_kwargs = super()._update_model_kwargs_for_generation(outputs, model_kwargs, *args, **kwargs)
        model_kwargs[CACHE_ARGUMENT] = outputs.cache
        return model_kwargs

    @torch.no_grad()
    def generate(
        self,
        sensor_values: torch.Tensor | None = None,
        sensor_mask: torch.Tensor | None = None,
        sensor_time: torch.Tensor | None = None,
        patch_size: torch.Tensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        sensor_context: torch.Tensor | None = None,
        **generate_kwargs: Any,
    ) -> Any:
        """Caption (or answer) sensor inputs with `GenerationMixin.generate` and a KV cache.

        The sensor encoder and pooler run once; their pooled tokens are reused at every step. `input_ids`
        is an optional prompt (left-padded, with its `attention_mask`); without it decoding starts from BOS.
        Returns the prompt followed by the generated tokens, as `generate` does for decoder-only models.
        """
        if sensor_context is None:
            sensor_context = self.get_sensor_context(sensor_values, sensor_mask, sensor_time, patch_size)
        batch = sensor_context.shape[0]
        if input_ids is None:
            bos = self.generation_config.bos_token_id
            if bos is None:
                raise ValueError(
                    "No prompt given and the generation config has no bos_token_id; pass input_ids."
                )
            input_ids = torch.full((batch, 1), bos, dtype=torch.long, device=sensor_context.device)
        self._check_batch(batch, input_ids.shape[0])
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        elif bool((attention_mask[:, -1] == 0).any()):
            raise ValueError("Generation prompts must be left-padded (tokenizer.padding_side = 'left').")
        return super().generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            sensor_context=sensor_context,
            return_loss=False,
            contrastive=False,
            **generate_kwargs,
        )


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
