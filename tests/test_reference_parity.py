"""The settings that reproduce the SLIP authors' weights change outputs exactly as they specify."""

import math

import pytest
import torch
import torch.nn.functional as F

from modeling_slip import SlipConfig, SlipForConditionalGeneration
from modeling_slip.attention_pooler import SlipAttentionPooler
from modeling_slip.configuration_slip import SlipSensorConfig
from modeling_slip.sensor_encoder import SlipSensorEncoder
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer

CAPTIONS = ["A person walking upstairs at 50 Hz.", "Lying down.", "Heart rate rises slowly over ten minutes."]


def reference_config(**overrides) -> SlipConfig:
    settings = dict(
        text_layout="reference",
        caption_uses_contrastive_query=True,
        attention_output_bias=False,
        logit_scale_max=1 / 0.07,
        text_embed_scale=11.25,
    )
    settings.update(overrides)
    return SlipConfig.from_preset("tiny", **settings)


@pytest.fixture(scope="module")
def processor() -> SlipProcessor:
    tokenizer = train_caption_tokenizer(CAPTIONS * 4, vocab_size=300, min_frequency=1)
    return SlipProcessor(SlipFeatureExtractor(target_patches=4), tokenizer, text_layout="reference")


@pytest.fixture(scope="module")
def model() -> SlipForConditionalGeneration:
    torch.manual_seed(0)
    return SlipForConditionalGeneration(reference_config()).eval()


def test_reference_captions_have_no_eos_and_are_left_padded(processor):
    ids = processor(text=CAPTIONS, return_tensors="pt")
    bos, eos, pad = (processor.tokenizer.convert_tokens_to_ids(t) for t in ("<bos>", "<eos>", "<pad>"))
    assert (ids["input_ids"] != eos).all()
    assert (ids["attention_mask"][:, -1] == 1).all() and (ids["attention_mask"][:, 0] == 0).any()
    for row, mask in zip(ids["input_ids"], ids["attention_mask"]):
        first = int(mask.argmax())
        assert row[first] == bos and (row[:first] == pad).all()
    assert processor.caption_lengths(CAPTIONS) == ids["attention_mask"].sum(1).tolist()


def test_reference_finetuning_layout(processor):
    batch = processor(prompts=["Which activity?"], answers=["walking"], return_tensors="pt")
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    prompt = processor.tokenizer("Which activity?", add_special_tokens=False)["input_ids"]
    answer = processor.tokenizer(" walking", add_special_tokens=False)["input_ids"]
    eos = processor.tokenizer.eos_token_id
    assert ids.tolist() == [processor.tokenizer.bos_token_id, *prompt, *answer, eos]
    assert labels.tolist() == [-100] * (1 + len(prompt)) + [*answer, eos]
    generation = processor(prompts=["Which activity?"], return_tensors="pt")["input_ids"][0]
    assert generation.tolist() == [processor.tokenizer.bos_token_id, *prompt]
    with pytest.raises(ValueError, match="plain text"):
        processor(prompts=[[{"role": "user", "content": "Which activity?"}]])


def test_text_embedding_is_the_encoder_state_at_the_last_position_of_ids_without_the_last(model, processor):
    text = processor(text=CAPTIONS, return_tensors="pt")
    ids, mask = text["input_ids"], text["attention_mask"]
    with torch.no_grad():
        embeds = model.get_text_features(ids, mask)
        shortened = model.text_model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], run_decoder=False)
        expected = F.normalize(model.text_projection(shortened.text_hidden_state[:, -1]), dim=-1)
    torch.testing.assert_close(embeds, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="at least two tokens"):
        model.get_text_features(ids[:, -1:], mask[:, -1:])


def test_caption_loss_is_next_token_ce_on_ids_without_the_last_ignoring_padding(model, processor):
    batch = processor(torch.randn(3, 2, 64).numpy(), freq="50Hz", text=CAPTIONS, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    sensor = {key: batch[key] for key in ("sensor_values", "sensor_mask", "sensor_time", "patch_size")}
    with torch.no_grad():
        loss = model(**sensor, input_ids=ids, attention_mask=mask, contrastive=False).caption_loss
        logits = model(**sensor, input_ids=ids[:, :-1], attention_mask=mask[:, :-1], contrastive=False).logits
    pad = processor.tokenizer.pad_token_id
    expected = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten(), ignore_index=pad)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_pooler_with_the_ffn_norm_equals_the_formula():
    config = reference_config()
    pooler = SlipAttentionPooler(config).eval()
    with torch.no_grad():
        for parameter in pooler.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    tokens = torch.randn(2, 5, config.sensor_config.hidden_size)
    valid = torch.tensor([[True] * 5, [True, True, True, False, False]])
    heads, width = config.pooler_num_heads, config.text_config.hidden_size
    head_dim = width // heads
    attention = pooler.cross_attn
    with torch.no_grad():
        queries = F.layer_norm(
            pooler.queries, (width,), pooler.query_layer_norm.weight, pooler.query_layer_norm.bias
        )
        context = pooler.context_layer_norm(tokens)
        q = attention.q_proj(queries).view(-1, heads, head_dim).transpose(0, 1)
        k = attention.k_proj(context).view(2, -1, heads, head_dim).transpose(1, 2)
        v = attention.v_proj(context).view(2, -1, heads, head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim)
        scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(2, -1, width)
        x = attended @ attention.out_proj.weight.T
        x = x + pooler.mlp(pooler.mlp_layer_norm(x))
        expected = pooler.post_layer_norm(x)
        torch.testing.assert_close(pooler(tokens, valid), expected, rtol=1e-5, atol=1e-5)
    assert attention.out_proj.bias is None and isinstance(pooler.mlp_layer_norm, torch.nn.LayerNorm)


def test_logit_scale_clamp_context_and_bias_free_projections(model):
    with torch.no_grad():
        model.logit_scale.fill_(5.0)
    assert model.scaled_logit_scale().item() == pytest.approx(1 / 0.07)
    sensor = {
        "sensor_values": torch.randn(2, 1, 3, 8),
        "sensor_mask": torch.ones(2, 1, 3, 8, dtype=torch.bool),
        "sensor_time": torch.linspace(0.01, 0.99, 24).view(1, 1, 3, 8).expand(2, 1, 3, 8),
        "patch_size": torch.tensor([8, 8]),
    }
    with torch.no_grad():
        assert model.get_sensor_context(**sensor).shape == (2, 1 + model.config.num_caption_queries, 128)
    assert all(layer.cross_attn.out_proj.bias is None for layer in model.text_model.cross_attention_layers)
    assert model.text_model.embed_tokens.embed_scale.item() == 11.25


def test_dropout_placement_follows_the_sensor_config():
    sensor = SlipSensorConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, base_patch_size=8
    )
    inputs = {
        "sensor_values": torch.randn(1, 1, 4, 8),
        "sensor_mask": torch.ones(1, 1, 4, 8, dtype=torch.bool),
        "sensor_time": torch.linspace(0.01, 0.99, 32).view(1, 1, 4, 8),
        "patch_size": torch.tensor([8]),
    }
    only_mlp = SlipSensorEncoder(SlipSensorConfig(**{**sensor.to_dict(), "mlp_dropout": 0.5})).train()
    assert not torch.equal(only_mlp(**inputs).last_hidden_state, only_mlp(**inputs).last_hidden_state)
    reference = SlipSensorEncoder(
        SlipSensorConfig(**{**sensor.to_dict(), "hidden_dropout": 0.1, "mlp_dropout": 0.0})
    )
    layer = reference.layers[0]
    assert (layer.dropout.p, layer.mlp_dropout.p) == (0.1, 0.0)
    assert (
        SlipSensorConfig(hidden_dropout=0.2).mlp_dropout == 0.2
    )  # unset: the same as the attention residual
