"""A checkpoint in the SLIP authors' released layout, at a tiny geometry, for converter tests.

The key names and shapes are written out here from the key layout of the authors' released files, independently of the
converter's own mapping, so that a wrong rule there fails the tests: bf16 text side, fp32 sensor side, a
separately stored `lm_head` equal to the embeddings, and the authors' `config.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from modeling_slip.configuration_slip import tiny_text_config
from processing_slip import train_caption_tokenizer

SENSOR_WIDTH, SENSOR_LAYERS, SENSOR_HEADS, MLP_RATIO = 32, 2, 2, 4
TEXT_WIDTH, TEXT_LAYERS, SPLIT, VOCAB, HEAD_DIM, HEADS, KV_HEADS, TEXT_FFN = 32, 4, 2, 300, 16, 2, 1, 64
CAPTION_QUERIES, POOLER_HEADS, BASE_PATCH = 4, 2, 32
TEXT = "multimodalModel.model.model."


def legacy_config() -> dict:
    return {
        "model_type": "slip",
        "architectures": ["SLIP"],
        "auto_map": {"AutoConfig": "configuration_slip.SLIPConfig", "AutoModel": "modeling_slip.SLIPModel"},
        "llm_model_name": "tiny-gemma3",
        "max_llm_len": 64,
        "num_img_queries": CAPTION_QUERIES,
        "num_heads": POOLER_HEADS,
        "caption_loss_weight": 1.0,
        "contrastive_loss_weight": 1.0,
        "use_lora": False,
        "unlocked_layers": 1,
        "split_layer": SPLIT,
        "common_dim": TEXT_WIDTH,
        "post_train": False,
        "sensor_encoder": {
            "embed_dim": SENSOR_WIDTH,
            "num_heads": SENSOR_HEADS,
            "mlp_ratio": MLP_RATIO,
            "depth": SENSOR_LAYERS,
            "dropout_rate": 0.1,
            "learnable_pos_emb": False,
            "max_position_embeddings": 4880,
            "patch_size": None,
            "channel_attn_type": "all_attn",
        },
    }


def _norm(prefix: str, width: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (width,), f"{prefix}.bias": (width,)}


def _linear(
    prefix: str, out_features: int, in_features: int, bias: bool = True
) -> dict[str, tuple[int, ...]]:
    shapes = {f"{prefix}.weight": (out_features, in_features)}
    if bias:
        shapes[f"{prefix}.bias"] = (out_features,)
    return shapes


def _gemma_layer(prefix: str) -> dict[str, tuple[int, ...]]:
    shapes = {
        f"{prefix}.self_attn.q_proj.weight": (HEADS * HEAD_DIM, TEXT_WIDTH),
        f"{prefix}.self_attn.k_proj.weight": (KV_HEADS * HEAD_DIM, TEXT_WIDTH),
        f"{prefix}.self_attn.v_proj.weight": (KV_HEADS * HEAD_DIM, TEXT_WIDTH),
        f"{prefix}.self_attn.o_proj.weight": (TEXT_WIDTH, HEADS * HEAD_DIM),
        f"{prefix}.self_attn.q_norm.weight": (HEAD_DIM,),
        f"{prefix}.self_attn.k_norm.weight": (HEAD_DIM,),
        f"{prefix}.mlp.gate_proj.weight": (TEXT_FFN, TEXT_WIDTH),
        f"{prefix}.mlp.up_proj.weight": (TEXT_FFN, TEXT_WIDTH),
        f"{prefix}.mlp.down_proj.weight": (TEXT_WIDTH, TEXT_FFN),
    }
    for norm in ("input", "post_attention", "pre_feedforward", "post_feedforward"):
        shapes[f"{prefix}.{norm}_layernorm.weight"] = (TEXT_WIDTH,)
    return shapes


def sensor_shapes() -> dict[str, tuple[int, ...]]:
    d, inner, patch = SENSOR_WIDTH, MLP_RATIO * SENSOR_WIDTH, 3 * BASE_PATCH
    shapes = {
        **_linear("sensor_encoder.patch_embed.shared_linear", inner, patch),
        **_linear("sensor_encoder.patch_embed.shared_residual", d, patch),
        **_linear("sensor_encoder.patch_embed.output_layer", d, inner),
        **_norm("sensor_encoder.norm", d),
    }
    for i in range(SENSOR_LAYERS):
        block = f"sensor_encoder.blocks.{i}"
        shapes.update(_norm(f"{block}.ts_attn.layer_norm", d))
        for name in ("q_proj", "k_proj", "v_proj"):
            shapes.update(_linear(f"{block}.ts_attn.self_attention.{name}", d, d))
        shapes.update(_linear(f"{block}.ts_attn.self_attention.o_proj", d, d, bias=False))
        shapes.update(_norm(f"{block}.norm", d))
        shapes.update(_linear(f"{block}.ffn_layer.gate_proj", inner, d, bias=False))
        shapes.update(_linear(f"{block}.ffn_layer.up_proj", inner, d, bias=False))
        shapes.update(_linear(f"{block}.ffn_layer.down_proj", d, inner, bias=False))
    w = TEXT_WIDTH
    shapes.update(
        {
            "img_queries": (CAPTION_QUERIES + 1, w),
            **_norm("img_attn_pool.cross_attn.norm", w),
            **_norm("img_attn_pool.cross_attn.context_norm", d),
            **_linear("img_attn_pool.cross_attn.q_proj", w, w),
            **_linear("img_attn_pool.cross_attn.k_proj", w, d),
            **_linear("img_attn_pool.cross_attn.v_proj", w, d),
            **_linear("img_attn_pool.cross_attn.o_proj", w, w, bias=False),
            **_norm("img_attn_pool.ffn_norm", w),
            **_linear("img_attn_pool.ffn_layer.gate_proj", 4 * w, w, bias=False),
            **_linear("img_attn_pool.ffn_layer.up_proj", 4 * w, w, bias=False),
            **_linear("img_attn_pool.ffn_layer.down_proj", w, 4 * w, bias=False),
            **_norm("img_attn_pool.post_norm", w),
            "img_to_latents.to_latents.weight": (w, w),
            "text_to_latents.to_latents.weight": (w, w),
            "temperature": (),
        }
    )
    return shapes


def text_shapes() -> dict[str, tuple[int, ...]]:
    w = TEXT_WIDTH
    shapes = {f"{TEXT}embed_tokens.weight": (VOCAB, w), f"{TEXT}norm.weight": (w,)}
    for i in range(TEXT_LAYERS):
        if i < SPLIT:
            shapes.update(_gemma_layer(f"{TEXT}layers.{i}"))
            continue
        shapes.update(_gemma_layer(f"{TEXT}layers.{i}.original_layer"))
        block = f"{TEXT}layers.{i}.cross_attn_block.fn"
        shapes.update({**_norm(f"{block}.norm", w), **_norm(f"{block}.context_norm", w)})
        for name in ("q_proj", "k_proj", "v_proj"):
            shapes.update(_linear(f"{block}.{name}", w, w))
        shapes.update(_linear(f"{block}.o_proj", w, w, bias=False))
    return shapes


def reference_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for dtype, shapes in ((torch.float32, sensor_shapes()), (torch.bfloat16, text_shapes())):
        for key, shape in shapes.items():
            tensors[key] = (0.2 * torch.randn(shape, generator=generator)).to(dtype)
    tensors["temperature"] = torch.tensor(2.0)
    tensors["multimodalModel.model.lm_head.weight"] = tensors[f"{TEXT}embed_tokens.weight"].clone()
    return tensors


def write_reference_checkpoint(directory: Path, tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """SOURCE: the authors' config.json and model.safetensors."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(legacy_config(), indent=2))
    save_file(reference_state_dict() if tensors is None else tensors, directory / "model.safetensors")
    return directory


def write_tokenizer_dir(directory: Path) -> Path:
    """A Gemma-3-style model directory: a small tokenizer and the text tower's config.json."""
    captions = ["A person walking, sampled at 50 Hz.", "Heart rate rises.", "A still person lying down."] * 8
    train_caption_tokenizer(captions, vocab_size=VOCAB, min_frequency=1).save_pretrained(directory)
    config = tiny_text_config(
        vocab_size=VOCAB,
        hidden_size=TEXT_WIDTH,
        intermediate_size=TEXT_FFN,
        num_hidden_layers=TEXT_LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        head_dim=HEAD_DIM,
        query_pre_attn_scalar=HEAD_DIM,
    )
    config.save_pretrained(directory)
    return directory
