"""Checkpoints and processors saved by slip 0.1.0 keep loading with identical outputs.

`tests/fixtures/slip-0.1.0-tiny` was written by slip 0.1.0 (see its README.md): a small
`SlipForConditionalGeneration` (no pooler FFN norm, bias-carrying output projections, `o_proj` in the decoder's
cross-attention), its processor, fixed inputs and the outputs that version computed from them.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForCausalLM, AutoProcessor

import slip  # noqa: F401  (registers the Auto classes)
from modeling_slip import SlipForConditionalGeneration, SlipModel

FIXTURE = Path(__file__).parent / "fixtures" / "slip-0.1.0-tiny"
SENSOR_KEYS = ("sensor_values", "sensor_mask", "sensor_time", "patch_size")
# Same operations in the same order: only float reassociation inside the backends may differ.
TOLERANCE = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def frozen() -> dict[str, torch.Tensor]:
    return load_file(FIXTURE / "expected.safetensors")


def _inputs(frozen: dict[str, torch.Tensor], keys=(*SENSOR_KEYS, "input_ids", "attention_mask")) -> dict:
    return {key: frozen[key] for key in keys}


@pytest.mark.parametrize(
    "loader", [SlipForConditionalGeneration.from_pretrained, AutoModelForCausalLM.from_pretrained]
)
def test_generation_model_reproduces_saved_outputs(frozen, loader):
    model = loader(FIXTURE).eval()
    assert type(model) is SlipForConditionalGeneration
    with torch.no_grad():
        output = model(**_inputs(frozen))
        generated = model.generate(**_inputs(frozen, SENSOR_KEYS), max_new_tokens=5, do_sample=False)
    torch.testing.assert_close(output.logits, frozen["expected_logits"], **TOLERANCE)
    torch.testing.assert_close(output.sensor_embeds, frozen["expected_sensor_embeds"], **TOLERANCE)
    for name in ("loss", "caption_loss", "contrastive_loss"):
        torch.testing.assert_close(output[name].reshape(1), frozen[f"expected_{name}"], **TOLERANCE)
    assert torch.equal(generated, frozen["expected_generated"])


def test_dual_encoder_reproduces_saved_features(frozen):
    model = AutoModel.from_pretrained(FIXTURE).eval()
    assert type(model) is SlipModel
    with torch.no_grad():
        sensor = model.get_sensor_features(**_inputs(frozen, SENSOR_KEYS))
        patch = model.get_mean_token_features(**_inputs(frozen, SENSOR_KEYS))
        text = model.get_text_features(frozen["input_ids"], frozen["attention_mask"])
    torch.testing.assert_close(sensor, frozen["expected_sensor_embeds"], **TOLERANCE)
    torch.testing.assert_close(patch, frozen["expected_patch_features"], **TOLERANCE)
    torch.testing.assert_close(text, frozen["expected_text_embeds"], **TOLERANCE)


def test_processor_reproduces_saved_inputs():
    processor = AutoProcessor.from_pretrained(FIXTURE)
    expected = load_file(FIXTURE / "expected_processor.safetensors")
    series = [np.load(FIXTURE / f"processor_series_{index}.npy") for index in range(2)]
    captions = ["A walking person, sampled at 50 Hz.", "A still person lying down."]
    layouts = {
        "caption": processor(series, freq="50Hz", text=captions, return_tensors="pt"),
        "prompt": processor(
            series, freq="50Hz", prompts=["What is it?", "Describe the series."], return_tensors="pt"
        ),
        "sft": processor(
            series,
            freq="50Hz",
            prompts=["What is it?", "Describe."],
            answers=["walking", "lying"],
            return_tensors="pt",
        ),
    }
    for key, value in expected.items():
        layout, name = key.split("_", 1)
        assert torch.equal(layouts[layout][name], value), key


def test_plain_load_state_dict_accepts_saved_files(frozen):
    """Trainer resumes with `model.load_state_dict(safetensors file)`, bypassing `from_pretrained`'s renames."""
    model = SlipForConditionalGeneration.from_pretrained(FIXTURE).eval()
    fresh = SlipForConditionalGeneration(model.config).eval()
    result = fresh.load_state_dict(load_file(FIXTURE / "model.safetensors"), strict=False)
    assert not result.unexpected_keys and set(result.missing_keys) <= {
        "lm_head.weight"
    }  # tied to the embeddings
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name


def test_saved_format_is_unchanged(tmp_path):
    """What 0.1.0 wrote is what is written now, so 0.1.0 reads new checkpoints too (apart from new modules)."""
    model = SlipForConditionalGeneration.from_pretrained(FIXTURE)
    model.save_pretrained(tmp_path)
    assert set(load_file(tmp_path / "model.safetensors")) == set(load_file(FIXTURE / "model.safetensors"))
    assert SlipForConditionalGeneration.from_pretrained(tmp_path).config.pooler_ffn_layer_norm is False


def test_new_models_have_the_pooler_norm_and_keep_it_through_save(tmp_path):
    model = SlipForConditionalGeneration.from_pretrained(FIXTURE)
    config = model.config.to_dict()
    config.pop("pooler_ffn_layer_norm")
    fresh = SlipForConditionalGeneration(type(model.config)(**config))
    assert fresh.config.pooler_ffn_layer_norm is True
    fresh.save_pretrained(tmp_path)
    reloaded = SlipForConditionalGeneration.from_pretrained(tmp_path)
    assert reloaded.config.pooler_ffn_layer_norm is True
    assert "pooler.mlp_layer_norm.weight" in load_file(tmp_path / "model.safetensors")
