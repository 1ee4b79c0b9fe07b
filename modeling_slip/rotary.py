"""2D rotary position embedding over (channel, patch) with padding-aware positions.

Each attention head splits its dimensions in two parts: the first part rotates by the token's channel
position, the second by its patch position. Positions count valid entries only, so padding that a batch adds
(extra channels, extra or left-padded patches) never shifts the position of a real token.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_slip import SlipSensorConfig


def padding_aware_positions(patch_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel and patch positions of every patch token.

    Args:
        patch_valid: (B, C, P) bool, True for patches with at least one observed step.

    Returns:
        channel_position, patch_position: (B, C, P) long. The patch position of a token is the number of valid
        patches before it in its channel; the channel position is the number of valid channels before its
        channel. Invalid tokens get the position of the previous valid one (they are masked out anyway).
    """
    patch_position = (patch_valid.long().cumsum(dim=2) - 1).clamp_min(0)
    channel_valid = patch_valid.any(dim=2)
    channel_position = (channel_valid.long().cumsum(dim=1) - 1).clamp_min(0)
    return channel_position[:, :, None].expand_as(patch_position), patch_position


def apply_rotary_pos_emb(
    query: torch.Tensor,
    key: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    permutation: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate `query` and `key` (batch, heads, seq, head_dim) by the tables of `SlipRotaryEmbedding2D`.

    The head dimension holds two rotary parts, each rotated on its own halves: x * cos + rotate_half(x) * sin per
    part, where rotate_half swaps a part's halves and negates the first. `permutation` swaps the halves of every
    part at once and `sin` (batch, seq, head_dim) carries the sign, so a rotation is one gather and two products.
    """
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)

    def rotate(x: torch.Tensor) -> torch.Tensor:
        return x * cos + x.index_select(-1, permutation) * sin

    return rotate(query), rotate(key)


class SlipRotaryEmbedding2D(nn.Module):
    """cos/sin tables of the 2D rotary embedding; parameter- and buffer-free (frequencies are recomputed,
    which costs nothing and keeps meta-device initialisation and checkpoint loading trivial)."""

    def __init__(self, config: SlipSensorConfig):
        super().__init__()
        head_dim = config.hidden_size // config.num_attention_heads
        channel_dim = 2 * round(head_dim * config.rope_channel_fraction / 2)
        patch_dim = head_dim - channel_dim
        if head_dim % 2 or channel_dim < 2 or patch_dim < 2:
            raise ValueError(
                f"2D RoPE needs an even head dimension with at least 2 dims per axis; got head_dim={head_dim} and "
                f"rope_channel_fraction={config.rope_channel_fraction}. Change hidden_size/num_attention_heads or "
                "rope_channel_fraction."
            )
        self.theta = config.rope_theta
        self.split_sizes = (channel_dim, patch_dim)

    def _inverse_frequencies(self, dim: int, device: torch.device) -> torch.Tensor:
        exponents = torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim
        return self.theta**-exponents

    def forward(
        self, channel_position: torch.Tensor, patch_position: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Positions (...,) -> cos, signed sin (..., head_dim) in `dtype` (computed in float32) and the
        permutation that swaps the halves of each rotary part (see `apply_rotary_pos_emb`)."""
        angles, signs, permutation, offset = [], [], [], 0
        for position, dim in zip((channel_position, patch_position), self.split_sizes):
            freqs = position.to(torch.float32)[..., None] * self._inverse_frequencies(dim, position.device)
            angles.append(torch.cat((freqs, freqs), dim=-1))
            half = torch.arange(dim // 2, device=position.device)
            signs.append(torch.cat((-torch.ones_like(half), torch.ones_like(half))))
            permutation.append(torch.cat((half + dim // 2, half)) + offset)
            offset += dim
        angle = torch.cat(angles, dim=-1)
        sin = angle.sin() * torch.cat(signs).to(torch.float32)
        return angle.cos().to(dtype), sin.to(dtype), torch.cat(permutation)
