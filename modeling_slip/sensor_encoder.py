"""The SLIP sensor encoder: FlexMLP patch tokens of all channels -> Pre-LN transformer with 2D RoPE.

All channels' patch tokens form one sequence (B, C*P, d) with full self-attention under a key-padding mask.
The "group" ablation (Chronos-2 style) replaces each layer's full attention by attention along time within each
channel, then across channels at the same patch index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput

from .configuration_slip import SlipSensorConfig
from .flex_mlp import SlipFlexMLP
from .layers import SlipAttention, SlipSwiGLU, TokenPacking, key_padding_mask, resolve_attn_implementation
from .rotary import SlipRotaryEmbedding2D, padding_aware_positions
from .sensor_inputs import validate_sensor_inputs


class SlipAttentionView(NamedTuple):
    """How one attention pass groups the tokens into sequences: its backend-ready key mask, the rotary tables laid
    out like the tokens it receives, and, for packed tokens, where they sit in the padded sequences."""

    attention_mask: torch.Tensor | None
    cos: torch.Tensor
    sin: torch.Tensor
    permutation: torch.Tensor
    packing: TokenPacking | None = None


class SlipSensorEncoderLayer(GradientCheckpointingLayer):
    """Pre-LN layer: self-attention (or time- then channel-attention in group mode) and a SwiGLU FFN.

    Both group passes use the same 2D rotary tables: within a channel the channel angles are shared and cancel in
    q.k, leaving the patch offset; across channels at one patch index the channel offset is what remains.
    """

    def __init__(self, config: SlipSensorConfig):
        super().__init__()
        width, eps = config.hidden_size, config.layer_norm_eps
        attention_kwargs = dict(
            hidden_size=width,
            num_heads=config.num_attention_heads,
            qkv_bias=config.qkv_bias,
            out_bias=False,
            dropout=config.attention_dropout,
        )
        self.self_attn_layer_norm = nn.LayerNorm(width, eps=eps)
        self.self_attn = SlipAttention(config, **attention_kwargs)
        self.group_attention = config.attention_type == "group"
        if self.group_attention:
            self.channel_attn_layer_norm = nn.LayerNorm(width, eps=eps)
            self.channel_attn = SlipAttention(config, **attention_kwargs)
        self.mlp_layer_norm = nn.LayerNorm(width, eps=eps)
        self.mlp = SlipSwiGLU(width, config.intermediate_size)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.mlp_dropout = nn.Dropout(config.mlp_dropout)

    def _attend(
        self, attention: SlipAttention, states: torch.Tensor, view: SlipAttentionView, output_attentions: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        rotary = (view.cos, view.sin, view.permutation)
        return attention(
            states,
            view.attention_mask,
            rotary=rotary,
            output_attentions=output_attentions,
            packing=view.packing,
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        view: SlipAttentionView,
        channel_view: SlipAttentionView | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
        """hidden_states: (B, C*P, d) in full mode, (B, C, P, d) in group mode (`view` then groups by channel and
        `channel_view` by patch index). Returns the new states and the attention weights of each pass."""
        normed = self.self_attn_layer_norm(hidden_states)
        if not self.group_attention:
            attended, weights = self._attend(self.self_attn, normed, view, output_attentions)
            hidden_states = hidden_states + self.dropout(attended)
            all_weights: tuple[torch.Tensor | None, ...] = (weights,)
        else:
            batch, channels, patches, width = hidden_states.shape
            attended, time_weights = self._attend(
                self.self_attn, normed.reshape(batch * channels, patches, width), view, output_attentions
            )
            hidden_states = hidden_states + self.dropout(attended.view(batch, channels, patches, width))
            normed = (
                self.channel_attn_layer_norm(hidden_states)
                .transpose(1, 2)
                .reshape(batch * patches, channels, width)
            )
            attended, channel_weights = self._attend(
                self.channel_attn, normed, channel_view, output_attentions
            )
            hidden_states = hidden_states + self.dropout(
                attended.view(batch, patches, channels, width).transpose(1, 2)
            )
            all_weights = (time_weights, channel_weights)
        hidden_states = hidden_states + self.mlp_dropout(self.mlp(self.mlp_layer_norm(hidden_states)))
        return hidden_states, all_weights


@dataclass
class SlipSensorEncoderOutput(ModelOutput):
    """
    last_hidden_state: (B, C*P, d) after the final LayerNorm; token t is channel t // P, patch t % P.
    token_mask: (B, C*P) True for valid patches (at least one observed step).
    hidden_states: embeddings and each layer's output, (B, C*P, d) each, when `output_hidden_states`.
    attentions: one tensor per layer, the eager attention weights (batch', heads, seq', seq') of its self-attention
        (full mode: over all C*P tokens; group mode: along time within each channel), when `output_attentions`.
    channel_attentions: group mode only, one tensor per layer: the attention across channels at each patch index.
    """

    last_hidden_state: torch.FloatTensor | None = None
    token_mask: torch.BoolTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    channel_attentions: tuple[torch.FloatTensor, ...] | None = None


class SlipSensorEncoder(nn.Module):
    """FlexMLP patch embedder + Pre-LN transformer layers + final LayerNorm."""

    def __init__(self, config: SlipSensorConfig):
        super().__init__()
        self.config = config
        self.embeddings = SlipFlexMLP(config)
        self.rotary_emb = SlipRotaryEmbedding2D(config)
        self.layers = nn.ModuleList([SlipSensorEncoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def _views(
        self,
        patch_valid: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        attn_implementation: str,
        packing: TokenPacking | None,
    ) -> tuple[SlipAttentionView, ...]:
        """Full mode: one (B, C*P) view (its tables packed like the tokens when `packing`). Group mode: a
        per-channel (B*C, P) and a per-patch-index (B*P, C) view."""
        batch, channels, patches = patch_valid.shape
        cos, sin, permutation = rotary
        if self.config.attention_type == "full":
            mask = key_padding_mask(patch_valid.flatten(1), attn_implementation)
            cos, sin = cos.flatten(1, 2), sin.flatten(1, 2)
            if packing is not None:
                cos, sin = packing.unpad(cos)[None], packing.unpad(sin)[None]
            return (SlipAttentionView(mask, cos, sin, permutation, packing),)
        time = SlipAttentionView(
            key_padding_mask(patch_valid.reshape(batch * channels, patches), attn_implementation),
            cos.flatten(0, 1),
            sin.flatten(0, 1),
            permutation,
        )
        channel = SlipAttentionView(
            key_padding_mask(
                patch_valid.transpose(1, 2).reshape(batch * patches, channels), attn_implementation
            ),
            cos.transpose(1, 2).flatten(0, 1),
            sin.transpose(1, 2).flatten(0, 1),
            permutation,
        )
        return time, channel

    def forward(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        token_index: torch.Tensor | None = None,
    ) -> SlipSensorEncoderOutput:
        """Encode (B, C, P, S) patches (see `sensor_inputs` for the contract) into (B, C*P, d) tokens.

        `token_index` (full attention only): the flattened B*C*P positions of the valid tokens
        (`packing.sensor_token_index`). The layers then run on those tokens only; attention sees them re-padded.
        The valid tokens' outputs equal the padded computation's; padding tokens come out as zeros.
        """
        validate_sensor_inputs(
            sensor_values, sensor_mask, sensor_time, patch_size, max_patch_size=self.config.max_patch_size
        )
        # The layers' attention modules resolve the same backend from the same config: the masks fit it.
        attn_implementation = resolve_attn_implementation(self.config._attn_implementation, output_attentions)
        patch_valid = sensor_mask.any(dim=-1)
        batch, channels, patches = patch_valid.shape
        packing = None
        if token_index is not None and self.config.attention_type == "full":
            packing = TokenPacking(token_index, batch, channels * patches)
        hidden_states = self.embeddings(sensor_values, sensor_mask, sensor_time, patch_size, packing=packing)
        rotary = self.rotary_emb(*padding_aware_positions(patch_valid), dtype=hidden_states.dtype)
        views = self._views(patch_valid, rotary, attn_implementation, packing)
        if packing is None and self.config.attention_type == "full":
            hidden_states = hidden_states.flatten(1, 2)

        def tokens(states: torch.Tensor) -> torch.Tensor:
            """(B, C*P, d) from any of the layouts the layers run in."""
            return (
                packing.pad(states[0])
                if packing is not None
                else states.reshape(batch, channels * patches, -1)
            )

        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[torch.Tensor, ...] = ()
        all_channel_attentions: tuple[torch.Tensor, ...] = ()
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (tokens(hidden_states),)
            hidden_states, weights = layer(hidden_states, *views, output_attentions=output_attentions)
            if output_attentions:
                all_attentions += (weights[0],)
                all_channel_attentions += weights[1:]
        if output_hidden_states:
            all_hidden_states += (tokens(hidden_states),)

        return SlipSensorEncoderOutput(
            last_hidden_state=tokens(self.final_layer_norm(hidden_states)),
            token_mask=patch_valid.flatten(1),
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
            channel_attentions=all_channel_attentions
            if output_attentions and self.layers[0].group_attention
            else None,
        )
