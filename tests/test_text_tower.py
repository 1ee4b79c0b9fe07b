"""Text tower: Gemma-3 weight mapping, EOS pooling, zero-init cross-attention, freezing, parameter counts."""

import pytest
import torch
from transformers import Gemma3ForCausalLM

from modeling_slip import SlipConfig, SlipForConditionalGeneration, SlipModel, count_parameters
from modeling_slip.configuration_slip import tiny_text_config
from modeling_slip.text_tower import (
    SlipCrossAttentionLayer,
    gemma3_to_slip_state_dict,
    last_token_indices,
)

TINY_SENSOR = SlipConfig.from_preset("tiny").sensor_config


@pytest.fixture(scope="module")
def tiny_lm() -> Gemma3ForCausalLM:
    torch.manual_seed(0)
    return Gemma3ForCausalLM(tiny_text_config()).eval()


@pytest.fixture(scope="module")
def saved_lm(tiny_lm, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("gemma3_tiny")
    tiny_lm.save_pretrained(path)
    return str(path)


def _tokens(batch: int = 2, length: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.randint(3, 4096, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_gemma3_key_mapping_renames_prefix_and_rejects_unknown_keys():
    weights = {"model.layers.0.mlp.up_proj.weight": torch.ones(1), "lm_head.weight": torch.zeros(1)}
    mapped = gemma3_to_slip_state_dict(weights)
    assert set(mapped) == {"text_model.layers.0.mlp.up_proj.weight", "lm_head.weight"}
    with pytest.raises(ValueError, match="Unexpected key"):
        gemma3_to_slip_state_dict({"vision_tower.weight": torch.ones(1)})


def test_last_token_indices_handles_left_and_right_padding():
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert last_token_indices(mask, 3, 5, "cpu").tolist() == [2, 4, 4]
    assert last_token_indices(None, 2, 5, "cpu").tolist() == [4, 4]
    # A sync-free device assertion (RuntimeError on CPU): the check never stalls a GPU.
    with pytest.raises(RuntimeError, match="at least one attended token"):
        last_token_indices(torch.tensor([[0, 0]]), 1, 2, "cpu")


@pytest.mark.parametrize("source", ["path", "model"])
def test_zero_init_cross_attention_reproduces_language_model_logits(tiny_lm, saved_lm, source):
    model = SlipForConditionalGeneration.from_text_pretrained(
        saved_lm if source == "path" else tiny_lm,
        split_layer=2,
        sensor_config=TINY_SENSOR,
        num_caption_queries=4,
        pooler_num_heads=4,
        num_frozen_text_layers=0,
        zero_init_cross_attention=True,
    ).eval()
    for key in ("hidden_size", "num_hidden_layers", "vocab_size", "layer_types", "rope_parameters"):
        assert getattr(model.config.text_config, key) == getattr(tiny_lm.config, key)
    input_ids = _tokens()
    attention_mask = torch.ones_like(input_ids)
    context = torch.randn(2, 4, model.config.text_config.hidden_size)
    with torch.no_grad():
        expected = tiny_lm(input_ids=input_ids, attention_mask=attention_mask).logits
        got = model(input_ids=input_ids, attention_mask=attention_mask, sensor_context=context).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_from_text_pretrained_rejects_other_inputs():
    with pytest.raises(ValueError, match="Gemma3ForCausalLM"):
        SlipModel.from_text_pretrained(torch.nn.Linear(2, 2))


def test_dual_encoder_keeps_only_encoder_layers_with_lm_weights(tiny_lm):
    model = SlipModel.from_text_pretrained(
        tiny_lm, split_layer=2, sensor_config=TINY_SENSOR, pooler_num_heads=4, num_frozen_text_layers=1
    )
    assert len(model.text_model.layers) == 2
    assert not hasattr(model.text_model, "cross_attention_layers")
    torch.testing.assert_close(
        model.text_model.layers[1].mlp.up_proj.weight, tiny_lm.model.layers[1].mlp.up_proj.weight
    )
    torch.testing.assert_close(model.text_model.embed_tokens.weight, tiny_lm.model.embed_tokens.weight)


def test_text_embedding_is_the_encoder_state_at_the_last_attended_token(tiny_lm):
    model = SlipModel.from_text_pretrained(
        tiny_lm, split_layer=2, sensor_config=TINY_SENSOR, pooler_num_heads=4, num_frozen_text_layers=0
    ).eval()
    tokens = _tokens(1, 5)
    pad = torch.zeros(1, 3, dtype=torch.long)
    right = torch.cat([tokens, pad], dim=1)
    left = torch.cat([pad, tokens], dim=1)
    ones, zeros = torch.ones(1, 5, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)
    with torch.no_grad():
        plain = model.get_text_features(tokens)
        right_padded = model.get_text_features(right, torch.cat([ones, zeros], dim=1))
        left_padded = model.get_text_features(left, torch.cat([zeros, ones], dim=1))
        hidden = tiny_lm(input_ids=tokens, output_hidden_states=True).hidden_states[2][:, -1]
    torch.testing.assert_close(right_padded, plain, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(left_padded, plain, atol=1e-5, rtol=1e-5)
    expected = torch.nn.functional.normalize(model.text_projection(hidden), dim=-1)
    torch.testing.assert_close(plain, expected, atol=1e-5, rtol=1e-5)
    assert torch.allclose(plain.norm(dim=-1), torch.ones(1))


def test_freezing_policy_freezes_embeddings_and_first_layers():
    config = SlipConfig.from_preset("tiny", freeze_text_embeddings=True, num_frozen_text_layers=1)
    model = SlipForConditionalGeneration(config)
    frozen = {name for name, param in model.named_parameters() if not param.requires_grad}
    assert "text_model.embed_tokens.weight" in frozen  # the tied LM head shares this tensor
    assert all(name.startswith(("text_model.layers.0.", "text_model.embed_tokens.")) for name in frozen)
    assert any(name.startswith("text_model.layers.0.") for name in frozen)
    assert model.lm_head.weight is model.text_model.embed_tokens.weight
    trainable_layers = {
        name.split(".")[2]
        for name, p in model.named_parameters()
        if p.requires_grad and name.startswith("text_model.layers.")
    }
    assert trainable_layers == {"1", "2", "3"}
    assert all(p.requires_grad for p in model.text_model.cross_attention_layers.parameters())
    assert all(p.requires_grad for p in model.sensor_model.parameters())


def test_cross_attention_eager_and_sdpa_agree():
    config = SlipConfig.from_preset("tiny", cross_attention_dropout=0.0)
    layer = SlipCrossAttentionLayer(config).eval()
    hidden, context = torch.randn(2, 5, 128), torch.randn(2, 7, 128)
    outputs = {}
    for implementation in ("eager", "sdpa"):
        config.text_config._attn_implementation = implementation
        outputs[implementation] = layer(hidden, context)
    torch.testing.assert_close(outputs["eager"], outputs["sdpa"], atol=1e-5, rtol=1e-5)


def test_base_preset_parameter_counts(capsys):
    with torch.device("meta"):
        model = SlipForConditionalGeneration(SlipConfig.from_preset("base"))
    counts = count_parameters(model)
    with capsys.disabled():
        print("\nbase preset parameter counts:", {k: f"{v / 1e6:.1f}M" for k, v in counts.items()})
    assert 110e6 <= counts["sensor_encoder"] <= 125e6
    # Gemma-3-270M: 167.8M embeddings + 18 layers; plus 6 cross-attention blocks and the text projection.
    assert 270e6 <= counts["text_total"] <= 285e6
    assert 60e6 <= counts["text_trainable"] <= 70e6
