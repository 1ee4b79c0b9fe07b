"""CoCa attention pooler: shapes, key-padding mask, backends, gradients, input checks."""

import pytest
import torch

from modeling_slip.attention_pooler import SlipAttentionPooler
from modeling_slip.configuration_slip import SlipConfig, SlipSensorConfig, tiny_text_config
from modeling_slip.layers import key_padding_mask

SENSOR_WIDTH, TEXT_WIDTH, QUERIES = 16, 24, 4


def make_pooler(attn_implementation: str | None = None) -> SlipAttentionPooler:
    config = SlipConfig(
        sensor_config=SlipSensorConfig(hidden_size=SENSOR_WIDTH, num_hidden_layers=1, num_attention_heads=2),
        text_config=tiny_text_config(hidden_size=TEXT_WIDTH, num_attention_heads=2, head_dim=12),
        split_layer=2,
        num_caption_queries=QUERIES,
        pooler_num_heads=3,
        pooler_intermediate_size=40,
        cross_attention_num_heads=2,
        num_frozen_text_layers=0,
    )
    config._attn_implementation = attn_implementation
    return SlipAttentionPooler(config).eval()


def padded_tokens(lengths: list[int], total: int):
    tokens = torch.randn(len(lengths), total, SENSOR_WIDTH)
    mask = torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]
    return tokens, mask


def test_output_has_one_contrastive_and_all_caption_queries():
    tokens, mask = padded_tokens([5, 3], 6)
    assert make_pooler()(tokens, mask).shape == (2, 1 + QUERIES, TEXT_WIDTH)


def test_padding_is_ignored():
    pooler = make_pooler()
    tokens, mask = padded_tokens([7, 2, 4], 9)
    pooled = pooler(tokens, mask)
    for index, length in enumerate([7, 2, 4]):
        alone = pooler(tokens[index : index + 1, :length], mask[index : index + 1, :length])
        torch.testing.assert_close(pooled[index : index + 1], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooler(tokens.masked_fill(~mask[..., None], 1e4), mask), pooled)


def test_eager_and_sdpa_agree():
    eager, sdpa = make_pooler("eager"), make_pooler("sdpa")
    sdpa.load_state_dict(eager.state_dict())
    tokens, mask = padded_tokens([6, 1], 6)
    torch.testing.assert_close(eager(tokens, mask), sdpa(tokens, mask), atol=1e-5, rtol=1e-5)


def test_every_parameter_gets_a_gradient():
    pooler = make_pooler().train()
    tokens, mask = padded_tokens([4, 2], 5)
    (pooler(tokens, mask) * torch.linspace(-1, 1, TEXT_WIDTH)).sum().backward()
    assert "queries" in dict(pooler.named_parameters())
    for name, parameter in pooler.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_bad_shapes_raise():
    tokens, mask = padded_tokens([2], 3)
    with pytest.raises(ValueError, match="token_mask"):
        make_pooler()(tokens, mask[:, :2])


def test_sequences_without_valid_keys_attend_to_all_keys():
    """A padding-only sequence must not give a fully masked softmax row (NaN on some kernels)."""
    valid = torch.tensor([[True, False, False], [False, False, False]])
    mask = key_padding_mask(valid, "sdpa")
    assert mask.shape == (2, 1, 1, 3)
    assert mask[0, 0, 0].tolist() == [True, False, False] and mask[1].all()
    assert key_padding_mask(valid, "flash_attention_2").tolist() == [[1, 0, 0], [1, 1, 1]]
    # Built without looking at the values (no host synchronisation), even when nothing is padded.
    assert key_padding_mask(torch.ones(2, 3, dtype=torch.bool), "sdpa").all()
