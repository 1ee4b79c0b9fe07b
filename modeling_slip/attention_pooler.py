"""CoCa attention pooler: learned queries cross-attend to the sensor tokens.

Query 0 becomes the contrastive sensor embedding (after the caller's projection and L2 norm); queries 1: (or all,
see `SlipConfig.caption_uses_contrastive_query`) are the context of the caption decoder.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_slip import SlipConfig
from .sensor_encoder import SlipAttention, SlipSwiGLU, key_padding_mask, resolve_attn_implementation


class SlipAttentionPooler(nn.Module):
    """Pre-LN on queries and context, cross-attention without residual (as the reference), SwiGLU FFN with
    residual, post-LN. Output width is the text tower's hidden size."""

    def __init__(self, config: SlipConfig):
        super().__init__()
        self.config = config
        width = config.text_config.hidden_size
        context_width = config.sensor_config.hidden_size
        eps = config.sensor_config.layer_norm_eps
        self.queries = nn.Parameter(
            torch.randn(config.num_pooler_queries, width) * config.sensor_config.initializer_range
        )
        self.query_layer_norm = nn.LayerNorm(width, eps=eps)
        self.context_layer_norm = nn.LayerNorm(context_width, eps=eps)
        self.cross_attn = SlipAttention(
            config, hidden_size=width, num_heads=config.pooler_num_heads, kv_size=context_width, out_bias=True
        )
        self.mlp = SlipSwiGLU(width, config.pooler_intermediate_size)
        self.post_layer_norm = nn.LayerNorm(width, eps=eps)

    def forward(self, sensor_tokens: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """sensor_tokens (B, N, sensor width), token_mask (B, N) True = valid -> (B, 1 + num_caption_queries, width).

        Runs eager or sdpa: flash-attention's variable-length path would unpad the (unpadded) queries with the
        key mask, and 65 queries cost next to nothing anyway.
        """
        if sensor_tokens.dim() != 3 or token_mask.shape != sensor_tokens.shape[:2]:
            raise ValueError(
                "sensor_tokens must be (batch, tokens, width) and token_mask (batch, tokens), got "
                f"{tuple(sensor_tokens.shape)} and {tuple(token_mask.shape)}; pass the encoder's "
                "last_hidden_state and token_mask."
            )
        attn_implementation = (
            "eager" if resolve_attn_implementation(self.config._attn_implementation) == "eager" else "sdpa"
        )
        queries = self.query_layer_norm(self.queries).expand(sensor_tokens.shape[0], -1, -1)
        context = self.context_layer_norm(sensor_tokens)
        pooled, _ = self.cross_attn(
            queries,
            key_padding_mask(token_mask.bool(), attn_implementation),
            attn_implementation,
            key_value_states=context,
        )
        pooled = pooled + self.mlp(pooled)
        return self.post_layer_norm(pooled)
