"""The text tower: one causal Gemma-3 stack split into a text encoder and a multimodal decoder.

Layers [0, split_layer) are the text encoder: the hidden state after layer split_layer-1 at a caption's last
attended token (EOS) is the text embedding. Layers [split_layer, num_hidden_layers) are the multimodal
decoder: each is followed by a named cross-attention block over the pooled sensor tokens. A single forward
over a caption therefore yields both the text embedding and the caption logits (CoCa).

The Gemma-3 building blocks (`Gemma3DecoderLayer`, `Gemma3RMSNorm`, `Gemma3TextScaledWordEmbedding`,
`Gemma3RotaryEmbedding`) and the causal / sliding-window mask builders are reused from `transformers`
(same call signatures in transformers 5.17 through 5.24, except the KV cache argument: see `CACHE_ARGUMENT`).
Parameter names follow `Gemma3TextModel`, so a `Gemma3ForCausalLM` state dict loads by replacing the key prefix
"model." with "text_model." (see `gemma3_to_slip_state_dict`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from transformers import Gemma3TextConfig
from transformers.cache_utils import Cache
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.models.gemma3.modeling_gemma3 import (
    Gemma3DecoderLayer,
    Gemma3RMSNorm,
    Gemma3RotaryEmbedding,
    Gemma3TextScaledWordEmbedding,
)
from transformers.utils import ModelOutput
from transformers.utils.deprecation import deprecate_kwarg

from .configuration_slip import SlipConfig
from .layers import SlipAttention
from .packing import packed_sequence_ids

GEMMA3_CAUSAL_LM_PREFIX = "model."
SLIP_TEXT_PREFIX = "text_model."

_MASK_BUILDERS: dict[str, Callable[..., torch.Tensor | None]] = {
    "full_attention": create_causal_mask,
    "sliding_attention": create_sliding_window_causal_mask,
}
CACHE_ARGUMENT = "cache" if "cache" in inspect.signature(create_causal_mask).parameters else "past_key_values"
"""What transformers calls the KV cache in layer and mask calls, model inputs and outputs: `cache` from 5.24 on,
`past_key_values` before. Our own outputs name it `cache` and our forwards accept both names."""


def deprecated_cache_name(forward: Callable) -> Callable:
    """Where transformers calls the cache `cache` (5.24 on), `past_key_values=` is renamed with its deprecation
    warning, as transformers' own forwards do; before, it is the name `generate` passes, and stays quiet."""
    if CACHE_ARGUMENT == "cache":
        return deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")(forward)
    return forward


def gemma3_to_slip_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a `Gemma3ForCausalLM` state dict onto SLIP parameter names: "model.X" -> "text_model.X".

    `lm_head.weight` keeps its name (it is tied to the token embeddings in Gemma-3); every other key must
    start with "model.", so nothing is silently dropped.
    """
    mapped = {}
    for key, value in state_dict.items():
        if key.startswith(GEMMA3_CAUSAL_LM_PREFIX):
            mapped[SLIP_TEXT_PREFIX + key[len(GEMMA3_CAUSAL_LM_PREFIX) :]] = value
        elif key == "lm_head.weight":
            mapped[key] = value
        else:
            raise ValueError(f"Unexpected key {key!r} in a Gemma3ForCausalLM state dict; expected 'model.*'.")
    return mapped


def last_token_indices(
    attention_mask: torch.Tensor | None, batch_size: int, seq_len: int, device
) -> torch.Tensor:
    """Index of each row's last attended token (works for left and right padding)."""
    if attention_mask is None:
        return torch.full((batch_size,), seq_len - 1, dtype=torch.long, device=device)
    attended = attention_mask.bool()
    torch._assert_async(
        attended.any(dim=1).all(), "Every row of attention_mask needs at least one attended token (a 1)."
    )
    flipped_first = attended.flip(-1).long().argmax(dim=-1)
    return seq_len - 1 - flipped_first


class SlipCrossAttentionLayer(GradientCheckpointingLayer):
    """Pre-LN residual cross-attention block placed after each decoder layer: h + Attn(LN(h), LN(sensor)).

    Every pooled sensor token is valid; the only masked keys are the padding of series metadata
    (`SlipConfig.series_metadata`) and, for packed captions, other samples' tokens. Dropout
    (`cross_attention_dropout`) acts on the attention probabilities, as in `nn.MultiheadAttention`. Attention runs
    on the text tower's backend.
    """

    def __init__(self, config: SlipConfig):
        super().__init__()
        width = config.text_config.hidden_size
        self.query_layernorm = nn.LayerNorm(width)
        self.context_layernorm = nn.LayerNorm(width)
        self.cross_attn = SlipAttention(
            config.text_config,
            hidden_size=width,
            num_heads=config.cross_attention_num_heads,
            kv_size=width,
            out_bias=config.attention_output_bias,
            dropout=config.cross_attention_dropout,
        )

    def forward(
        self, hidden_states: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """context_mask: a (B, 1, 1, K) bool key mask over the context, or, for packed captions (1, N) over all
        samples' flattened context (1, B*K), a (1, 1, N, B*K) bool mask that keeps each caption on its own
        sample's valid tokens."""
        attended, _ = self.cross_attn(
            self.query_layernorm(hidden_states),
            context_mask,
            key_value_states=self.context_layernorm(context),
        )
        return hidden_states + attended


@dataclass
class SlipTextTransformerOutput(ModelOutput):
    """Outputs of the text tower.

    text_hidden_state: (B, T, D) after the last text-encoder layer (un-normalised), source of text embeddings.
    last_hidden_state: (B, T, D) after the decoder and the final RMSNorm; None when the decoder did not run.
    """

    text_hidden_state: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    cache: Cache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None


class SlipTextTransformer(nn.Module):
    """Gemma-3 stack: token embeddings, the first `num_layers` Gemma layers, and, when they reach past
    `split_layer`, the decoder's cross-attention blocks and final norm.

    `SlipModel` builds the text encoder (`num_layers=split_layer`); `SlipForConditionalGeneration` the whole
    stack. Both use the same parameter names, so either loads the other's checkpoint.
    """

    def __init__(self, config: SlipConfig, num_layers: int):
        super().__init__()
        text_config: Gemma3TextConfig = config.text_config
        if not config.split_layer <= num_layers <= text_config.num_hidden_layers:
            raise ValueError(
                f"num_layers must lie in [split_layer={config.split_layer}, {text_config.num_hidden_layers}], "
                f"got {num_layers}."
            )
        self.config = text_config
        self.split_layer = config.split_layer
        self.with_decoder = num_layers > config.split_layer
        self.embed_tokens = Gemma3TextScaledWordEmbedding(
            text_config.vocab_size,
            text_config.hidden_size,
            text_config.pad_token_id,
            embed_scale=config.text_embed_scale or text_config.hidden_size**0.5,
        )
        self.layers = nn.ModuleList([Gemma3DecoderLayer(text_config, idx) for idx in range(num_layers)])
        if self.with_decoder:
            self.cross_attention_layers = nn.ModuleList(
                [SlipCrossAttentionLayer(config) for _ in range(config.split_layer, num_layers)]
            )
            self.norm = Gemma3RMSNorm(text_config.hidden_size, eps=text_config.rms_norm_eps)
        self.rotary_emb = Gemma3RotaryEmbedding(text_config)

    def _position_ids(self, attention_mask: torch.Tensor | None, past_length: int, seq_len: int, device):
        """Padding-aware positions (count of attended tokens so far), so left-padded prompts match unpadded."""
        if attention_mask is None:
            return torch.arange(past_length, past_length + seq_len, device=device).unsqueeze(0)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        return positions[:, -seq_len:]

    def _padded_masks(
        self,
        layer_types: list[str],
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor,
        cache: Cache | None,
    ) -> dict[str, torch.Tensor | None]:
        return {
            layer_type: _MASK_BUILDERS[layer_type](
                config=self.config,
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                position_ids=position_ids,
                **{CACHE_ARGUMENT: cache},
            )
            for layer_type in set(layer_types)
        }

    def _packed_masks(self, layer_types: list[str], sequence_ids: torch.Tensor, dtype: torch.dtype) -> dict:
        """Block-diagonal causal masks (1, 1, N, N) of packed captions for eager / SDPA (a caption sees its own
        earlier tokens, within the sliding window on sliding layers); None for flash-attention, which takes
        the cumulative lengths instead."""
        if self.config._attn_implementation == "flash_attention_2":
            return dict.fromkeys(layer_types)
        index = torch.arange(len(sequence_ids), device=sequence_ids.device)
        distance = index[:, None] - index[None, :]
        visible = (sequence_ids[:, None] == sequence_ids[None, :]) & (distance >= 0)
        masks = {}
        for layer_type in set(layer_types):
            allowed = (
                visible
                if layer_type == "full_attention"
                else visible & (distance < self.config.sliding_window)
            )
            if self.config._attn_implementation == "eager":  # Gemma's eager attention adds its mask
                masks[layer_type] = torch.zeros(
                    allowed.shape, dtype=dtype, device=allowed.device
                ).masked_fill(~allowed, torch.finfo(dtype).min)[None, None]
            else:
                masks[layer_type] = allowed[None, None]
        return masks

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        sensor_context: torch.Tensor | None = None,
        sensor_context_mask: torch.Tensor | None = None,
        run_decoder: bool = True,
        output_hidden_states: bool = False,
        cu_seq_lens_q: torch.Tensor | None = None,
        max_length_q: int | None = None,
        **kwargs,
    ) -> SlipTextTransformerOutput:
        """Run the encoder layers and, if `run_decoder`, the decoder layers with cross-attention.

        attention_mask: (B, past + T) 2-D padding mask (1 = token). sensor_context: (B, K, D) the pooled sensor
        tokens the decoder cross-attends to, followed by any series metadata tokens; sensor_context_mask: (B, K),
        False on metadata padding (None: every token valid). Packed captions (`packing.pack_captions`):
        input_ids and position_ids (1, N), `cu_seq_lens_q` and `max_length_q`, no attention_mask; hidden states
        are then (1, N, D).
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds to the text tower.")
        if run_decoder and not self.with_decoder:
            raise ValueError(
                "This text tower has no decoder layers (SlipModel); use SlipForConditionalGeneration."
            )
        if run_decoder and sensor_context is None:
            raise ValueError("The multimodal decoder needs sensor_context (the pooled sensor tokens).")
        packed = cu_seq_lens_q is not None
        if packed and (position_ids is None or attention_mask is not None or cache is not None):
            raise ValueError(
                "Packed captions (cu_seq_lens_q) need their position_ids and take no attention_mask or cache; "
                "build them with modeling_slip.packing.pack_captions."
            )
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        batch, seq_len = inputs_embeds.shape[:2]
        if attention_mask is not None and attention_mask.dim() != 2:
            raise ValueError(
                f"attention_mask must be 2-D (batch, length), got shape {tuple(attention_mask.shape)}."
            )
        if attention_mask is not None and attention_mask.shape[0] != batch:
            raise ValueError(
                f"attention_mask has batch size {attention_mask.shape[0]} but the text inputs have {batch}."
            )
        past_length = cache.get_seq_length() if cache is not None else 0
        if position_ids is None:
            position_ids = self._position_ids(attention_mask, past_length, seq_len, inputs_embeds.device)

        layer_types = [self.config.layer_types[idx] for idx in range(len(self.layers))]
        context_mask = None
        if packed:
            sequence_ids = packed_sequence_ids(cu_seq_lens_q, seq_len)
            masks = self._packed_masks(layer_types, sequence_ids, inputs_embeds.dtype)
            kwargs.update(
                cu_seq_lens_q=cu_seq_lens_q,
                cu_seq_lens_k=cu_seq_lens_q,
                max_length_q=max_length_q,
                max_length_k=max_length_q,
            )
            if run_decoder:
                samples, queries = sensor_context.shape[:2]
                context_owner = torch.arange(samples, device=sequence_ids.device).repeat_interleave(queries)
                context_mask = sequence_ids[:, None] == context_owner[None, :]
                if sensor_context_mask is not None:
                    context_mask = context_mask & sensor_context_mask.reshape(1, -1).bool()
                context_mask = context_mask[None, None]
                sensor_context = sensor_context.reshape(1, samples * queries, -1)
        else:
            masks = self._padded_masks(layer_types, inputs_embeds, attention_mask, position_ids, cache)
            if run_decoder and sensor_context_mask is not None:
                context_mask = sensor_context_mask.bool()[:, None, None, :]
        rope = {
            layer_type: self.rotary_emb(inputs_embeds, position_ids, layer_type)
            for layer_type in set(layer_types)
        }

        hidden_states = inputs_embeds
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        text_hidden_state = None
        last_layer = len(self.layers) if run_decoder else self.split_layer
        for idx in range(last_layer):
            hidden_states = self.layers[idx](
                hidden_states,
                attention_mask=masks[layer_types[idx]],
                position_embeddings=rope[layer_types[idx]],
                position_ids=position_ids,
                **{CACHE_ARGUMENT: cache},
                **kwargs,
            )
            if idx >= self.split_layer:
                hidden_states = self.cross_attention_layers[idx - self.split_layer](
                    hidden_states, sensor_context, context_mask
                )
            if idx == self.split_layer - 1:
                text_hidden_state = hidden_states
            if output_hidden_states:
                all_hidden_states += (hidden_states,)

        return SlipTextTransformerOutput(
            text_hidden_state=text_hidden_state,
            last_hidden_state=self.norm(hidden_states) if run_decoder else None,
            cache=cache,
            hidden_states=all_hidden_states,
        )
