"""The SLIP authors' released layout converts into our classes, with complete key accounting."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoProcessor

import slip  # noqa: F401  (registers the Auto classes)
from modeling_slip import SlipConfig, SlipForConditionalGeneration, SlipModel
from modeling_slip.convert_reference_checkpoint import ConversionError, convert, main
from reference_fixtures import (
    TEXT,
    reference_state_dict,
    write_reference_checkpoint,
    write_tokenizer_dir,
)

# Source key -> our key, written from the key layout of the authors' released files (one per kind of rule).
EXPECTED_PAIRS = {
    "sensor_encoder.patch_embed.shared_linear.weight": "sensor_model.embeddings.hidden_layer.weight",
    "sensor_encoder.patch_embed.shared_residual.bias": "sensor_model.embeddings.residual_layer.bias",
    "sensor_encoder.blocks.1.ts_attn.layer_norm.weight": "sensor_model.layers.1.self_attn_layer_norm.weight",
    "sensor_encoder.blocks.0.ts_attn.self_attention.k_proj.bias": "sensor_model.layers.0.self_attn.k_proj.bias",
    "sensor_encoder.blocks.0.ts_attn.self_attention.o_proj.weight": "sensor_model.layers.0.self_attn.out_proj.weight",
    "sensor_encoder.blocks.1.norm.bias": "sensor_model.layers.1.mlp_layer_norm.bias",
    "sensor_encoder.blocks.1.ffn_layer.down_proj.weight": "sensor_model.layers.1.mlp.down_proj.weight",
    "sensor_encoder.norm.weight": "sensor_model.final_layer_norm.weight",
    "img_queries": "pooler.queries",
    "img_attn_pool.cross_attn.norm.weight": "pooler.query_layer_norm.weight",
    "img_attn_pool.cross_attn.context_norm.bias": "pooler.context_layer_norm.bias",
    "img_attn_pool.cross_attn.v_proj.weight": "pooler.cross_attn.v_proj.weight",
    "img_attn_pool.cross_attn.o_proj.weight": "pooler.cross_attn.out_proj.weight",
    "img_attn_pool.ffn_norm.weight": "pooler.mlp_layer_norm.weight",
    "img_attn_pool.ffn_layer.up_proj.weight": "pooler.mlp.up_proj.weight",
    "img_attn_pool.post_norm.bias": "pooler.post_layer_norm.bias",
    "img_to_latents.to_latents.weight": "sensor_projection.weight",
    "text_to_latents.to_latents.weight": "text_projection.weight",
    "temperature": "logit_scale",
    f"{TEXT}embed_tokens.weight": "text_model.embed_tokens.weight",
    f"{TEXT}layers.1.self_attn.q_norm.weight": "text_model.layers.1.self_attn.q_norm.weight",
    f"{TEXT}layers.3.original_layer.mlp.up_proj.weight": "text_model.layers.3.mlp.up_proj.weight",
    f"{TEXT}layers.2.cross_attn_block.fn.norm.weight": "text_model.cross_attention_layers.0.query_layernorm.weight",
    f"{TEXT}layers.3.cross_attn_block.fn.context_norm.bias": (
        "text_model.cross_attention_layers.1.context_layernorm.bias"
    ),
    f"{TEXT}layers.2.cross_attn_block.fn.q_proj.bias": "text_model.cross_attention_layers.0.cross_attn.q_proj.bias",
    f"{TEXT}layers.3.cross_attn_block.fn.o_proj.weight": (
        "text_model.cross_attention_layers.1.cross_attn.out_proj.weight"
    ),
    f"{TEXT}norm.weight": "text_model.norm.weight",
}


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    return write_tokenizer_dir(tmp_path_factory.mktemp("gemma"))


@pytest.fixture(scope="module")
def converted(tmp_path_factory, tokenizer_dir):
    source = write_reference_checkpoint(tmp_path_factory.mktemp("reference"))
    output = tmp_path_factory.mktemp("converted") / "slip"
    report = convert(source, output, tokenizer_dir, log=lambda message: None)
    return source, output, report


def test_converted_checkpoint_loads_with_the_auto_classes_and_generates(converted):
    _, output, report = converted
    coca = AutoModelForCausalLM.from_pretrained(output).eval()
    dual = AutoModel.from_pretrained(output).eval()
    processor = AutoProcessor.from_pretrained(output)
    assert type(coca) is SlipForConditionalGeneration and type(dual) is SlipModel
    assert processor.text_layout == coca.config.text_layout == "reference"
    inputs = processor(torch.randn(2, 3, 200).numpy(), freq="50Hz", return_tensors="pt")
    with torch.no_grad():
        generated = coca.generate(**inputs, max_new_tokens=4)
        torch.testing.assert_close(dual.get_sensor_features(**inputs), coca.get_sensor_features(**inputs))
    assert generated.shape == (2, 5)
    assert report.caption and "tied" in report.lm_head


def test_every_tensor_lands_where_the_table_says(converted):
    source, output, report = converted
    reference = load_file(source / "model.safetensors")
    ours = SlipForConditionalGeneration.from_pretrained(output).state_dict()
    assert report.mapped == len(reference) - 1  # all but the lm_head copy, which is tied
    assert len(ours) == report.mapped + 1
    for theirs, key in EXPECTED_PAIRS.items():
        assert torch.equal(ours[key], reference[theirs].float()), (theirs, key)
    assert torch.equal(ours["lm_head.weight"], ours["text_model.embed_tokens.weight"])


def test_converted_config_carries_the_reference_settings(converted):
    config = SlipConfig.from_pretrained(converted[1])
    assert (config.text_layout, config.caption_uses_contrastive_query, config.attention_output_bias) == (
        "reference",
        True,
        False,
    )
    assert config.logit_scale_max == pytest.approx(14.2857, abs=1e-4)
    assert config.text_embed_scale == float(torch.tensor(32**0.5, dtype=torch.bfloat16))
    assert (
        config.sensor_config.patch_resize_mode == "linear_joint" and config.sensor_config.mlp_dropout == 0.0
    )
    assert config.num_frozen_text_layers == 1 and config.pooler_ffn_layer_norm


def _convert_with(tmp_path, tokenizer_dir, tensors, **kwargs):
    source = write_reference_checkpoint(tmp_path / "source", tensors)
    return convert(source, tmp_path / "out", tokenizer_dir, log=lambda message: None, **kwargs)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.pop("img_attn_pool.ffn_norm.weight"), "missing: \\['img_attn_pool.ffn_norm.weight'\\]"),
        (lambda t: t.__setitem__("extra.weight", torch.zeros(2)), "map to nothing.*extra.weight"),
        (lambda t: t.__setitem__("logit_bias", torch.zeros(())), "logit_bias.*sigmoid"),
        (
            lambda t: t.__setitem__(f"{TEXT}layers.0.self_attn.lora_A.weight", torch.zeros(2, 2)),
            "lora_A.*merge the adapters",
        ),
        (
            lambda t: t.__setitem__("img_queries", torch.zeros(3, 32)),
            "img_queries \\(3, 32\\) \\(expected \\(5, 32\\)\\)",
        ),
    ],
)
def test_key_accounting_names_the_offending_key(tmp_path, tokenizer_dir, edit, message):
    tensors = reference_state_dict()
    edit(tensors)
    with pytest.raises(ConversionError, match=message):
        _convert_with(tmp_path, tokenizer_dir, tensors)
    assert not (tmp_path / "out").exists()


def test_wrapper_prefixes_are_stripped_and_a_different_lm_head_stays_untied(tmp_path, tokenizer_dir):
    tensors = {f"module.{key}": value for key, value in reference_state_dict().items()}
    tensors["module.multimodalModel.model.lm_head.weight"] += 0.5
    report = _convert_with(tmp_path, tokenizer_dir, tensors)
    assert "differs" in report.lm_head and "untied" in report.lm_head
    model = SlipForConditionalGeneration.from_pretrained(tmp_path / "out")
    assert not model.config.tie_word_embeddings
    assert not torch.equal(model.lm_head.weight, model.text_model.embed_tokens.weight)


def test_cli_refuses_a_non_empty_output_dir_unless_told(tmp_path, tokenizer_dir, capsys):
    source = write_reference_checkpoint(tmp_path / "source")
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        main([str(source), str(output), "--tokenizer", str(tokenizer_dir)])
    assert exit_info.value.code == 2 and "--overwrite" in capsys.readouterr().err
    assert (output / "keep.txt").read_text() == "mine"
    main([str(source), str(output), "--tokenizer", str(tokenizer_dir), "--overwrite", "--dtype", "bfloat16"])
    assert "Converted model.safetensors" in capsys.readouterr().out
    assert not (output / "keep.txt").exists()
    assert SlipForConditionalGeneration.from_pretrained(output).dtype == torch.bfloat16


@pytest.mark.parametrize(
    "loader", [AutoConfig.from_pretrained, AutoModel.from_pretrained, SlipConfig.from_pretrained]
)
def test_a_legacy_config_directory_is_never_misread(tmp_path, loader):
    source = write_reference_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="convert_reference_checkpoint SOURCE OUTPUT_DIR"):
        loader(source)
    assert json.loads((source / "config.json").read_text())["model_type"] == "slip"
