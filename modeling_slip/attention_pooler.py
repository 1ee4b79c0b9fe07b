"""CoCa attention pooler: learned queries cross-attend to the sensor tokens.

Query 0 becomes the contrastive sensor embedding (after the caller's projection and L2 norm); queries 1: (or all,
see `SlipConfig.caption_uses_contrastive_query`) are the context of the caption decoder.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_slip import SlipConfig
from .layers import SlipAttention, SlipSwiGLU, key_padding_mask, resolve_attn_implementation


class SlipAttentionPooler(nn.Module):
    """Pre-LN on queries and context, cross-attention without residual (as the reference), then
    x + SwiGLU(LN(x)), then a post-LN. Output width is the text tower's hidden size.

    The LayerNorm before the FFN (`mlp_layer_norm`) is part of the method; checkpoints saved without it (slip
    0.1.0) set `config.pooler_ffn_layer_norm = False` and run x + SwiGLU(x), as they were trained. Attention runs
    on the sensor tower's backend (`sensor_config._attn_implementation`).
    """

    def __init__(self, config: SlipConfig):
        super().__init__()
        self.config = config.sensor_config
        width = config.text_config.hidden_size
        context_width = config.sensor_config.hidden_size
        eps = config.sensor_config.layer_norm_eps
        self.queries = nn.Parameter(
            torch.randn(config.num_pooler_queries, width) * config.sensor_config.initializer_range
        )
        self.query_layer_norm = nn.LayerNorm(width, eps=eps)
        self.context_layer_norm = nn.LayerNorm(context_width, eps=eps)
        self.cross_attn = SlipAttention(
            config.sensor_config,
            hidden_size=width,
            num_heads=config.pooler_num_heads,
            kv_size=context_width,
            out_bias=config.attention_output_bias,
        )
        self.mlp_layer_norm = nn.LayerNorm(width, eps=eps) if config.pooler_ffn_layer_norm else nn.Identity()
        self.mlp = SlipSwiGLU(width, config.pooler_intermediate_size)
        self.post_layer_norm = nn.LayerNorm(width, eps=eps)

    def forward(self, sensor_tokens: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """sensor_tokens (B, N, sensor width), token_mask (B, N) True = valid -> (B, 1 + num_caption_queries, width)."""
        if sensor_tokens.dim() != 3 or token_mask.shape != sensor_tokens.shape[:2]:
            raise ValueError(
                "sensor_tokens must be (batch, tokens, width) and token_mask (batch, tokens), got "
                f"{tuple(sensor_tokens.shape)} and {tuple(token_mask.shape)}; pass the encoder's "
                "last_hidden_state and token_mask."
            )
        implementation = resolve_attn_implementation(
            self.config._attn_implementation, padded_cross_attention=True
        )
        queries = self.query_layer_norm(self.queries).expand(sensor_tokens.shape[0], -1, -1)
        context = self.context_layer_norm(sensor_tokens)
        pooled, _ = self.cross_attn(
            queries, key_padding_mask(token_mask.bool(), implementation), key_value_states=context
        )
        pooled = pooled + self.mlp(self.mlp_layer_norm(pooled))
        return self.post_layer_norm(pooled)
