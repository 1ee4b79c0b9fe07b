"""SLIP follows the conventions users rely on in transformers models: generate options, per-tower attention
backends, return_dict, config output flags, one attention tensor per layer, and the cache's argument name."""

import warnings

import pytest
import torch

from modeling_slip import SlipConfig, SlipForConditionalGeneration, SlipModel
from modeling_slip.text_tower import CACHE_ARGUMENT

SENSOR = {
    "sensor_values": torch.randn(2, 2, 3, 8, generator=torch.Generator().manual_seed(0)),
    "sensor_mask": torch.ones(2, 2, 3, 8, dtype=torch.bool),
    "sensor_time": (torch.arange(1, 25, dtype=torch.float32) / 25)
    .view(1, 1, 3, 8)
    .expand(2, 2, 3, 8)
    .contiguous(),
    "patch_size": torch.tensor([8, 8]),
}
TEXT = {
    "input_ids": torch.tensor([[2, 17, 30, 1], [2, 44, 1, 0]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
}


@pytest.fixture(scope="module")
def coca() -> SlipForConditionalGeneration:
    torch.manual_seed(0)
    return SlipForConditionalGeneration(SlipConfig.from_preset("tiny")).eval()


def test_beam_search_without_a_cache(coca):
    cached = coca.generate(**SENSOR, max_new_tokens=4, num_beams=2, do_sample=False)
    uncached = coca.generate(**SENSOR, max_new_tokens=4, num_beams=2, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)


@pytest.mark.parametrize("model_class", [SlipModel, SlipForConditionalGeneration])
def test_per_tower_attention_choice_survives_init_and_loading(tmp_path, model_class):
    config = SlipConfig.from_preset("tiny")
    config.text_config._attn_implementation = "eager"
    model = model_class(config)
    assert model.config.text_config._attn_implementation == "eager"
    assert model.config.sensor_config._attn_implementation == "sdpa"  # no choice of its own: the model's
    model.save_pretrained(tmp_path)
    loaded = model_class.from_pretrained(
        tmp_path, attn_implementation={"text_config": "sdpa", "sensor_config": "eager"}
    )
    assert loaded.config.text_config._attn_implementation == "sdpa"
    assert loaded.config.sensor_config._attn_implementation == "eager"
    assert (
        loaded.pooler.cross_attn.config._attn_implementation == "eager"
    )  # the pooler runs on the sensor tower's


def test_return_dict_from_argument_config_and_from_pretrained(tmp_path, coca):
    with torch.no_grad():
        as_dict = coca(**SENSOR, **TEXT)
        as_tuple = coca(**SENSOR, **TEXT, return_dict=False)
    assert isinstance(as_tuple, tuple) and torch.equal(as_tuple[0], as_dict.loss)
    dual = SlipModel(coca.config)
    with torch.no_grad():
        assert isinstance(dual(**SENSOR, **TEXT, return_dict=False), tuple)
    coca.save_pretrained(tmp_path)
    quiet = SlipModel.from_pretrained(tmp_path, return_dict=False).eval()
    with torch.no_grad():
        assert isinstance(quiet(**SENSOR, **TEXT), tuple)


def test_output_flags_fall_back_to_the_config(tmp_path, coca):
    coca.save_pretrained(tmp_path)
    model = SlipForConditionalGeneration.from_pretrained(
        tmp_path, output_attentions=True, output_hidden_states=True
    )
    with torch.no_grad():
        output = model.eval()(**SENSOR, **TEXT)
    layers = model.config.sensor_config.num_hidden_layers
    assert len(output.sensor_model_output.attentions) == layers
    assert len(output.sensor_model_output.hidden_states) == layers + 1
    assert output.text_model_output.hidden_states is not None
    with torch.no_grad():
        assert model(**SENSOR, **TEXT, output_attentions=False).sensor_model_output.attentions is None


@pytest.mark.parametrize("attention_type", ["full", "group"])
def test_one_attention_tensor_per_layer(attention_type):
    config = SlipConfig.from_preset("tiny")
    config.sensor_config.attention_type = attention_type
    model = SlipModel(config).eval()
    with torch.no_grad():
        encoded = model.sensor_model(**SENSOR, output_attentions=True)
    heads = config.sensor_config.num_attention_heads
    assert all(isinstance(weights, torch.Tensor) for weights in encoded.attentions)
    if attention_type == "full":
        assert encoded.attentions[0].shape == (2, heads, 6, 6) and encoded.channel_attentions is None
    else:  # along time within each of the 2 x 2 channels, then across the channels at each of 2 x 3 patches
        assert encoded.attentions[0].shape == (4, heads, 3, 3)
        assert encoded.channel_attentions[0].shape == (6, heads, 2, 2)


@pytest.mark.skipif(CACHE_ARGUMENT != "cache", reason="transformers < 5.24 calls the cache past_key_values")
def test_past_key_values_is_a_deprecated_name_of_cache(coca):
    from transformers.cache_utils import DynamicCache

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        output = coca(
            **SENSOR, **TEXT, past_key_values=DynamicCache(config=coca.config.text_config), use_cache=True
        )
    assert any("`past_key_values` is deprecated" in str(warning.message) for warning in caught)
    assert output.cache.get_seq_length() == TEXT["input_ids"].shape[1]
