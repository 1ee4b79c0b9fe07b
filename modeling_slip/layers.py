"""Layers shared by the sensor encoder, the attention pooler and the decoder's cross-attention.

`SlipAttention` is the one attention module of the package: self-attention (optionally rotary) or
cross-attention to a context of another width. Like the attention modules of `transformers` (CLIP, SigLIP), it
reads the backend from the config of its own tower (`config._attn_implementation`) at every call, so
`model.set_attn_implementation(...)` or a per-tower `attn_implementation={"text_config": ...}` takes effect
without rebuilding anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from transformers import PretrainedConfig
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import is_flash_attn_2_available, logging

from .rotary import apply_rotary_pos_emb

logger = logging.get_logger(__name__)

SUPPORTED_ATTN_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2")
DEFAULT_ATTN_IMPLEMENTATION = "sdpa"
FLASH_ATTENTION = "flash_attention_2"


def resolve_attn_implementation(
    requested: str | None, output_attentions: bool = False, padded_cross_attention: bool = False
) -> str:
    """The backend that runs for a tower config's `_attn_implementation`; attention modules and the mask
    builders of their towers both ask here, so a mask always has the form its backend takes.

    "sdpa" when unset; "sdpa" with a warning when flash-attn is requested but not importable, and for
    cross-attention over padded keys (flash-attention's padding-free path unpads queries and keys with one
    mask, cross-attention needs two); "eager" when attention weights are asked for (fused kernels do not return
    them).
    """
    if requested is None:
        requested = DEFAULT_ATTN_IMPLEMENTATION
    if requested not in SUPPORTED_ATTN_IMPLEMENTATIONS:
        raise ValueError(
            f"attn_implementation {requested!r} is not supported by SLIP; use one of "
            f"{SUPPORTED_ATTN_IMPLEMENTATIONS}."
        )
    if requested == FLASH_ATTENTION and not is_flash_attn_2_available():
        logger.warning_once(
            "flash_attention_2 was requested but flash_attn is not available; using sdpa instead."
        )
        requested = DEFAULT_ATTN_IMPLEMENTATION
    if requested == FLASH_ATTENTION and padded_cross_attention:
        requested = DEFAULT_ATTN_IMPLEMENTATION
    if output_attentions and requested != "eager":
        logger.warning_once(
            f"output_attentions=True needs eager attention; running eager instead of {requested}."
        )
        return "eager"
    return requested


def key_padding_mask(key_valid: torch.Tensor, attn_implementation: str) -> torch.Tensor:
    """The backend's form of a key-padding mask `key_valid` (batch, kv_len), True = attend.

    eager/sdpa take a (batch, 1, 1, kv_len) bool mask, flash-attention a (batch, kv_len) int mask that it uses to
    unpad the sequences. The mask is built even when nothing is padded: finding out would need a host
    synchronisation, which stalls a GPU and breaks `torch.compile(fullgraph=True)` and `torch.export`. A sequence
    without any valid key (a padding-only channel or patch index in group attention) attends to all its keys
    instead: its outputs stay finite (no NaN from a fully masked softmax row) and, being padding, never reach a
    valid token.
    """
    key_valid = key_valid | ~key_valid.any(dim=-1, keepdim=True)
    if attn_implementation == FLASH_ATTENTION:
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
    attention weights. `attention_mask` is a bool mask (True = attend) or an additive float mask.

    The scale is applied to the queries (seq x head_dim) rather than the scores (seq x seq), and the mask in
    place, so the only seq x seq tensors are the scores and their softmax.
    """
    scores = torch.matmul(query * scaling, key.transpose(-1, -2))
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores.masked_fill_(attention_mask.logical_not(), torch.finfo(scores.dtype).min)
        else:
            scores.add_(attention_mask)
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


class TokenPacking(NamedTuple):
    """Where the valid tokens of a padded (batch, length) layout sit: `index` into its flattened batch * length
    positions, ascending. Per-token layers run on the packed (1, N, ...) tokens; attention re-pads them."""

    index: torch.Tensor
    batch: int
    length: int

    def pad(self, packed: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (batch, length, ...), zeros where no token is."""
        padded = packed.new_zeros(self.batch * self.length, *packed.shape[1:])
        return padded.index_copy(0, self.index, packed).view(self.batch, self.length, *packed.shape[1:])

    def unpad(self, padded: torch.Tensor) -> torch.Tensor:
        """(batch, length, ...) -> (N, ...)."""
        return padded.flatten(0, 1).index_select(0, self.index)


class SlipAttention(nn.Module):
    """Multi-head self-attention, or cross-attention when `kv_size` (the context width) is given.

    `config` is the tower's config: its `_attn_implementation` picks the backend (transformers' flash-attention
    utilities read it from `self.config` too). Queries and keys may carry rotary tables (self-attention).
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
        self.num_key_value_groups = 1
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
        attention_mask: torch.Tensor | None = None,
        key_value_states: torch.Tensor | None = None,
        rotary: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        output_attentions: bool = False,
        packing: TokenPacking | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """hidden_states (batch, q_len, hidden) -> (batch, q_len, hidden) and the attention weights (eager) or None.

        attention_mask: a mask in the backend's form (`key_padding_mask`, or a 4-D bool mask), or None.
        key_value_states: the context of cross-attention (batch, kv_len, kv_size); None for self-attention.
        rotary: (cos, sin, permutation) tables (`rotary.apply_rotary_pos_emb`), for self-attention.
        packing: self-attention over packed tokens: hidden_states is (1, N, hidden); projections run packed and
            only the attention itself sees the padded (packing.batch, packing.length) layout of its mask.
        """
        is_cross = key_value_states is not None
        implementation = resolve_attn_implementation(
            self.config._attn_implementation, output_attentions, is_cross and attention_mask is not None
        )
        attention_interface: Callable = eager_attention_forward
        if implementation != "eager":
            attention_interface = ALL_ATTENTION_FUNCTIONS[implementation]
        context = key_value_states if is_cross else hidden_states
        query = self._heads(self.q_proj(hidden_states))
        key = self._heads(self.k_proj(context))
        value = self._heads(self.v_proj(context))
        if rotary is not None:
            query, key = apply_rotary_pos_emb(query, key, *rotary)
        if packing is not None:
            query, key, value = (
                packing.pad(states[0].transpose(0, 1)).transpose(1, 2) for states in (query, key, value)
            )
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
        if packing is not None:
            output = packing.unpad(output)[None]
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
