"""The SLIP sensor encoder: FlexMLP patch tokens of all channels -> Pre-LN transformer with 2D RoPE.

All channels' patch tokens form one sequence (B, C*P, d) with full self-attention under a key-padding mask.
The "group" ablation (Chronos-2 style) replaces each layer's full attention by attention along time within each
channel, then across channels at the same patch index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from transformers import PretrainedConfig
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput, is_flash_attn_2_available, logging

from .configuration_slip import SlipSensorConfig
from .patch_embedding import SlipFlexPatchEmbedding
from .rotary import SlipRotaryEmbedding2D, apply_rotary_pos_emb, padding_aware_positions
from .sensor_inputs import validate_sensor_inputs

logger = logging.get_logger(__name__)

SUPPORTED_ATTN_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2")


def resolve_attn_implementation(requested: str | None) -> str:
    """The attention backend to run: `requested` (a config's `_attn_implementation`), "sdpa" when unset, and
    "sdpa" with a warning when flash-attn is requested but not importable."""
    if requested is None:
        return "sdpa"
    if requested not in SUPPORTED_ATTN_IMPLEMENTATIONS:
        raise ValueError(
            f"attn_implementation {requested!r} is not supported by the SLIP sensor tower; "
            f"use one of {SUPPORTED_ATTN_IMPLEMENTATIONS}."
        )
    if requested == "flash_attention_2" and not is_flash_attn_2_available():
        logger.warning_once(
            "flash_attention_2 was requested but flash_attn is not available; using sdpa instead."
        )
        return "sdpa"
    return requested


def key_padding_mask(key_valid: torch.Tensor, attn_implementation: str) -> torch.Tensor | None:
    """The backend's form of a key-padding mask `key_valid` (batch, kv_len), True = attend.

    eager/sdpa take a (batch, 1, 1, kv_len) bool mask, flash-attention a (batch, kv_len) int mask that it uses to
    unpad the sequences; None when nothing is padded. A sequence without any valid key (a padding-only channel or
    patch index in group attention) attends to all its keys instead: its outputs stay finite (no NaN from a fully
    masked softmax row) and, being padding, never reach a valid token.
    """
    key_valid = key_valid | ~key_valid.any(dim=-1, keepdim=True)
    if bool(key_valid.all()):
        return None
    if attn_implementation == "flash_attention_2":
        return key_valid.to(torch.int32)
    return key_valid[:, None, None, :]


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain softmax attention on (batch, heads, seq, head_dim); returns (batch, seq, heads, head_dim) and the
    attention weights. `attention_mask` is a bool mask (True = attend) or an additive float mask."""
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


class SlipAttention(nn.Module):
    """Multi-head self- or cross-attention (`kv_size` != hidden_size for cross) with optional rotary tables.

    `config` is kept as `self.config` because transformers' flash-attention utilities read the backend from it.
    """

    def __init__(
        self,
        config: PretrainedConfig,
        hidden_size: int,
        num_heads: int,
        kv_size: int | None = None,
        qkv_bias: bool = True,
        out_bias: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads}).")
        self.config = config
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = dropout
        self.is_causal = False
        kv_size = kv_size or hidden_size
        self.q_proj = nn.Linear(hidden_size, hidden_size, bias=qkv_bias)
        self.k_proj = nn.Linear(kv_size, hidden_size, bias=qkv_bias)
        self.v_proj = nn.Linear(kv_size, hidden_size, bias=qkv_bias)
        self.out_proj = nn.Linear(hidden_size, hidden_size, bias=out_bias)

    def _heads(self, states: torch.Tensor) -> torch.Tensor:
        return states.view(*states.shape[:-1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        attn_implementation: str,
        key_value_states: torch.Tensor | None = None,
        rotary: tuple[torch.Tensor, torch.Tensor, tuple[int, int]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """hidden_states (batch, q_len, hidden) -> (batch, q_len, hidden) and eager attention weights or None.

        rotary: (cos, sin, split_sizes) with cos/sin of shape (batch, seq, head_dim), for self-attention.
        """
        context = hidden_states if key_value_states is None else key_value_states
        query = self._heads(self.q_proj(hidden_states))
        key = self._heads(self.k_proj(context))
        value = self._heads(self.v_proj(context))
        if rotary is not None:
            query, key = apply_rotary_pos_emb(query, key, *rotary)
        attention_interface: Callable = eager_attention_forward
        if attn_implementation != "eager":
            attention_interface = ALL_ATTENTION_FUNCTIONS[attn_implementation]
        output, weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            is_causal=False,
        )
        output = output.reshape(*hidden_states.shape[:-1], -1).contiguous()
        return self.out_proj(output), weights


class SlipSwiGLU(nn.Module):
    """SwiGLU feed-forward without biases: down(silu(gate(x)) * up(x))."""

    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.activation = nn.SiLU()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.activation(self.gate_proj(hidden_states)) * self.up_proj(hidden_states))


class SlipAttentionView(NamedTuple):
    """How one attention pass groups the tokens into sequences: its backend-ready key mask and rotary tables
    (batch', seq', head_dim) laid out like those sequences."""

    attention_mask: torch.Tensor | None
    cos: torch.Tensor
    sin: torch.Tensor


class SlipSensorEncoderLayer(GradientCheckpointingLayer):
    """Pre-LN layer: self-attention (or time- then channel-attention in group mode) and a SwiGLU FFN.

    Both group passes use the same 2D rotary tables: within a channel the channel angles are shared and cancel in
    q.k, leaving the patch offset; across channels at one patch index the channel offset is what remains.
    """

    def __init__(self, config: SlipSensorConfig, rotary_split: tuple[int, int]):
        super().__init__()
        self.rotary_split = rotary_split
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

    def _attend(
        self,
        attention: SlipAttention,
        states: torch.Tensor,
        view: SlipAttentionView,
        attn_implementation: str,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        rotary = (view.cos, view.sin, self.rotary_split)
        return attention(states, view.attention_mask, attn_implementation, rotary=rotary)

    def forward(
        self,
        hidden_states: torch.Tensor,
        view: SlipAttentionView,
        channel_view: SlipAttentionView | None = None,
        attn_implementation: str = "sdpa",
    ) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
        """hidden_states: (B, C*P, d) in full mode, (B, C, P, d) in group mode (`view` then groups by channel and
        `channel_view` by patch index). Returns the new states and the attention weights of each pass."""
        normed = self.self_attn_layer_norm(hidden_states)
        if not self.group_attention:
            attended, weights = self._attend(self.self_attn, normed, view, attn_implementation)
            hidden_states = hidden_states + self.dropout(attended)
            all_weights: tuple[torch.Tensor | None, ...] = (weights,)
        else:
            batch, channels, patches, width = hidden_states.shape
            attended, time_weights = self._attend(
                self.self_attn, normed.reshape(batch * channels, patches, width), view, attn_implementation
            )
            hidden_states = hidden_states + self.dropout(attended.view(batch, channels, patches, width))
            normed = (
                self.channel_attn_layer_norm(hidden_states)
                .transpose(1, 2)
                .reshape(batch * patches, channels, width)
            )
            attended, channel_weights = self._attend(
                self.channel_attn, normed, channel_view, attn_implementation
            )
            hidden_states = hidden_states + self.dropout(
                attended.view(batch, patches, channels, width).transpose(1, 2)
            )
            all_weights = (time_weights, channel_weights)
        hidden_states = hidden_states + self.dropout(self.mlp(self.mlp_layer_norm(hidden_states)))
        return hidden_states, all_weights


@dataclass
class SlipSensorEncoderOutput(ModelOutput):
    """
    last_hidden_state: (B, C*P, d) after the final LayerNorm; token t is channel t // P, patch t % P.
    token_mask: (B, C*P) True for valid patches (at least one observed step).
    hidden_states: embeddings and each layer's output, (B, C*P, d) each, when `output_hidden_states`.
    attentions: per layer, the eager attention weights of each attention pass (one in full mode, time and channel
        in group mode), when `output_attentions`.
    """

    last_hidden_state: torch.FloatTensor | None = None
    token_mask: torch.BoolTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[tuple[torch.FloatTensor, ...], ...] | None = None


class SlipSensorEncoder(nn.Module):
    """FlexMLP patch embedder + Pre-LN transformer layers + final LayerNorm."""

    def __init__(self, config: SlipSensorConfig):
        super().__init__()
        self.config = config
        self.embeddings = SlipFlexPatchEmbedding(config)
        self.rotary_emb = SlipRotaryEmbedding2D(config)
        self.layers = nn.ModuleList(
            [
                SlipSensorEncoderLayer(config, self.rotary_emb.split_sizes)
                for _ in range(config.num_hidden_layers)
            ]
        )
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def _attn_implementation(self, output_attentions: bool) -> str:
        implementation = resolve_attn_implementation(self.config._attn_implementation)
        if output_attentions and implementation != "eager":
            logger.warning_once(
                f"output_attentions=True needs eager attention; running eager instead of {implementation}."
            )
            return "eager"
        return implementation

    def _views(
        self, patch_valid: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, attn_implementation: str
    ) -> tuple[SlipAttentionView, ...]:
        """Full mode: one (B, C*P) view. Group mode: a per-channel (B*C, P) and a per-patch-index (B*P, C) view."""
        batch, channels, patches = patch_valid.shape
        if self.config.attention_type == "full":
            sequences = patch_valid.flatten(1)
            return (
                SlipAttentionView(
                    key_padding_mask(sequences, attn_implementation), cos.flatten(1, 2), sin.flatten(1, 2)
                ),
            )
        time = SlipAttentionView(
            key_padding_mask(patch_valid.reshape(batch * channels, patches), attn_implementation),
            cos.flatten(0, 1),
            sin.flatten(0, 1),
        )
        channel = SlipAttentionView(
            key_padding_mask(
                patch_valid.transpose(1, 2).reshape(batch * patches, channels), attn_implementation
            ),
            cos.transpose(1, 2).flatten(0, 1),
            sin.transpose(1, 2).flatten(0, 1),
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
    ) -> SlipSensorEncoderOutput:
        """Encode (B, C, P, S) patches (see `sensor_inputs` for the contract) into (B, C*P, d) tokens."""
        validate_sensor_inputs(
            sensor_values, sensor_mask, sensor_time, patch_size, max_patch_size=self.config.max_patch_size
        )
        attn_implementation = self._attn_implementation(output_attentions)
        patch_valid = sensor_mask.any(dim=-1)
        hidden_states = self.embeddings(sensor_values, sensor_mask, sensor_time, patch_size)
        cos, sin = self.rotary_emb(*padding_aware_positions(patch_valid), dtype=hidden_states.dtype)
        views = self._views(patch_valid, cos, sin, attn_implementation)
        if self.config.attention_type == "full":
            hidden_states = hidden_states.flatten(1, 2)

        all_hidden_states: tuple[torch.Tensor, ...] = ()
        all_attentions: tuple[tuple[torch.Tensor | None, ...], ...] = ()
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states.flatten(1, -2),)
            hidden_states, weights = layer(hidden_states, *views, attn_implementation=attn_implementation)
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = hidden_states.flatten(1, -2)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)

        return SlipSensorEncoderOutput(
            last_hidden_state=self.final_layer_norm(hidden_states),
            token_mask=patch_valid.flatten(1),
            hidden_states=all_hidden_states if output_hidden_states else None,
            attentions=all_attentions if output_attentions else None,
        )
