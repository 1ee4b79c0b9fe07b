"""Convert the SLIP authors' released checkpoints into `SlipForConditionalGeneration` checkpoints.

    python -m modeling_slip.convert_reference_checkpoint SOURCE OUTPUT_DIR --tokenizer gemma-3-270m
    python -m modeling_slip.convert_reference_checkpoint SOURCE OUTPUT_DIR --tokenizer gemma-3-270m \\
        --weights har.safetensors --dtype bfloat16

SOURCE is a directory laid out as the Hub repository `LeoChen085/SLIP`: the authors' `config.json` and
`model.safetensors` (the pretrained model) or a task file (`har`, `sleep`, `ecg`, `tsqa`, `caption`
`.safetensors`, each a whole finetuned model). `--tokenizer` is a local Gemma-3 tokenizer or model directory
(`python -m modeling_slip.convert_gemma_gguf` writes one); when it holds a Gemma-3 `config.json`, the text tower's
geometry comes from there, else from Gemma-3-270M's, which the authors' `llm_model_name` names.

Every tensor is mapped by name (`reference_key`); a source key that maps to nothing, a target key with no
source and a shape that does not fit all stop the conversion, naming the keys. The separately stored `lm_head`
is tied to the embeddings only if it equals them. The output holds the weights (safetensors), a `SlipConfig`
with the settings the weights were trained with (`SlipConfig` docstring), a generation config (greedy, as the
authors evaluated) and a processor in their conventions (mean-|x| scaling, (i + 1)/(L + 1) time, left padding,
their text layout). The conversion ends with one forward pass and a generated caption on a built-in series.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, Gemma3TextConfig, GenerationConfig

from .configuration_slip import REFERENCE_CONFIG_FIELDS, SlipConfig, SlipSensorConfig, gemma3_270m_text_config
from .modeling_slip import SlipForConditionalGeneration

WEIGHT_FILES = (
    "model.safetensors",
    "har.safetensors",
    "sleep.safetensors",
    "ecg.safetensors",
    "tsqa.safetensors",
    "caption.safetensors",
)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Prefixes DDP and torch.compile add to saved keys."""
GEMMA_3_270M = "google/gemma-3-270m"
REFERENCE_BASE_PATCH_SIZE = 32
REFERENCE_LOGIT_SCALE_MAX = 1 / 0.07
"""The authors clamp exp(temperature) at CLIP's initial scale, 14.29."""
LM_HEAD = "lm_head.weight"
REFERENCE_LM_HEAD = "multimodalModel.model.lm_head.weight"
_TEXT = "multimodalModel.model.model."

_SENSOR_RULES: list[tuple[str, str]] = [
    (r"^sensor_model\.embeddings\.hidden_layer\.", "sensor_encoder.patch_embed.shared_linear."),
    (r"^sensor_model\.embeddings\.residual_layer\.", "sensor_encoder.patch_embed.shared_residual."),
    (r"^sensor_model\.embeddings\.output_layer\.", "sensor_encoder.patch_embed.output_layer."),
    (
        r"^sensor_model\.layers\.(\d+)\.self_attn_layer_norm\.",
        r"sensor_encoder.blocks.\1.ts_attn.layer_norm.",
    ),
    (
        r"^sensor_model\.layers\.(\d+)\.self_attn\.out_proj\.",
        r"sensor_encoder.blocks.\1.ts_attn.self_attention.o_proj.",
    ),
    (r"^sensor_model\.layers\.(\d+)\.self_attn\.", r"sensor_encoder.blocks.\1.ts_attn.self_attention."),
    (r"^sensor_model\.layers\.(\d+)\.mlp_layer_norm\.", r"sensor_encoder.blocks.\1.norm."),
    (r"^sensor_model\.layers\.(\d+)\.mlp\.", r"sensor_encoder.blocks.\1.ffn_layer."),
    (r"^sensor_model\.final_layer_norm\.", "sensor_encoder.norm."),
    (r"^pooler\.queries$", "img_queries"),
    (r"^pooler\.query_layer_norm\.", "img_attn_pool.cross_attn.norm."),
    (r"^pooler\.context_layer_norm\.", "img_attn_pool.cross_attn.context_norm."),
    (r"^pooler\.cross_attn\.out_proj\.", "img_attn_pool.cross_attn.o_proj."),
    (r"^pooler\.cross_attn\.", "img_attn_pool.cross_attn."),
    (r"^pooler\.mlp_layer_norm\.", "img_attn_pool.ffn_norm."),
    (r"^pooler\.mlp\.", "img_attn_pool.ffn_layer."),
    (r"^pooler\.post_layer_norm\.", "img_attn_pool.post_norm."),
    (r"^sensor_projection\.weight$", "img_to_latents.to_latents.weight"),
    (r"^text_projection\.weight$", "text_to_latents.to_latents.weight"),
    (r"^logit_scale$", "temperature"),
    (r"^text_model\.embed_tokens\.", _TEXT + "embed_tokens."),
    (r"^text_model\.norm\.", _TEXT + "norm."),
]
"""Our key pattern -> the authors' key (the key layout of their released model.safetensors), for keys outside the Gemma layers."""

_CROSS_ATTENTION_PARTS = {
    "query_layernorm.": "norm.",
    "context_layernorm.": "context_norm.",
    "cross_attn.q_proj.": "q_proj.",
    "cross_attn.k_proj.": "k_proj.",
    "cross_attn.v_proj.": "v_proj.",
    "cross_attn.out_proj.": "o_proj.",
}


class ConversionError(ValueError):
    """The source checkpoint does not fit the released layout; the message names the keys."""


def reference_key(key: str, split_layer: int) -> str:
    """The authors' name of our state-dict key `key` (decoder layers from `split_layer` on wrap the Gemma layer
    as `original_layer` and carry the cross-attention block)."""
    layer = re.match(r"^text_model\.layers\.(\d+)\.(.+)$", key)
    if layer:
        index, rest = int(layer[1]), layer[2]
        wrapped = "original_layer." if index >= split_layer else ""
        return f"{_TEXT}layers.{index}.{wrapped}{rest}"
    cross = re.match(r"^text_model\.cross_attention_layers\.(\d+)\.(.+)$", key)
    if cross:
        index, rest = int(cross[1]) + split_layer, cross[2]
        for ours, theirs in _CROSS_ATTENTION_PARTS.items():
            if rest.startswith(ours):
                return f"{_TEXT}layers.{index}.cross_attn_block.fn.{theirs}{rest[len(ours) :]}"
    for pattern, replacement in _SENSOR_RULES:
        if re.search(pattern, key):
            return re.sub(pattern, replacement, key)
    raise ConversionError(f"No reference name is known for {key!r}.")


def strip_wrapper_prefixes(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    stripped = {}
    for key, value in state_dict.items():
        for prefix in WRAPPER_PREFIXES:
            key = key.removeprefix(prefix)
        stripped[key] = value
    return stripped


def _reference_text_config(legacy: dict[str, Any], tokenizer_dir: Path) -> Gemma3TextConfig:
    """The Gemma-3 geometry: the tokenizer directory's own config when it holds one, else Gemma-3-270M's."""
    local = tokenizer_dir / "config.json"
    if local.is_file():
        data = json.loads(local.read_text())
        data = data.get("text_config", data)
        if data.get("model_type") not in ("gemma3_text", "gemma3"):
            raise ConversionError(f"{local} is not a Gemma-3 config (model_type {data.get('model_type')!r}).")
        return Gemma3TextConfig(**{k: v for k, v in data.items() if k != "model_type"})
    if legacy.get("llm_model_name") != GEMMA_3_270M:
        raise ConversionError(
            f"The checkpoint's text tower is {legacy.get('llm_model_name')!r}; pass --tokenizer a directory that "
            "holds that model's config.json."
        )
    return gemma3_270m_text_config()


def slip_config_from_reference(legacy: dict[str, Any], text_config: Gemma3TextConfig) -> SlipConfig:
    """Our config for the authors' `config.json`, with every setting their weights were trained with."""
    missing = [name for name in REFERENCE_CONFIG_FIELDS if name not in legacy]
    if missing:
        raise ConversionError(f"SOURCE/config.json is not the authors' format: it lacks {missing}.")
    sensor = legacy["sensor_encoder"]
    if sensor.get("learnable_pos_emb"):
        raise ConversionError("learnable_pos_emb=true: this package's encoder has 2D RoPE only.")
    if sensor.get("channel_attn_type", "all_attn") != "all_attn":
        raise ConversionError(
            f"channel_attn_type {sensor['channel_attn_type']!r}: only 'all_attn' is supported."
        )
    if legacy["common_dim"] != text_config.hidden_size:
        raise ConversionError(
            f"common_dim {legacy['common_dim']} differs from the text width {text_config.hidden_size}."
        )
    dropout = float(sensor["dropout_rate"])
    sensor_config = SlipSensorConfig(
        hidden_size=sensor["embed_dim"],
        num_hidden_layers=sensor["depth"],
        num_attention_heads=sensor["num_heads"],
        intermediate_size=int(sensor["mlp_ratio"] * sensor["embed_dim"]),
        base_patch_size=REFERENCE_BASE_PATCH_SIZE,
        patch_resize_mode="linear_joint",
        embedding_dropout=dropout,
        attention_dropout=dropout,
        hidden_dropout=dropout,
        mlp_dropout=0.0,
    )
    split_layer = legacy["split_layer"]
    bf16_embed_scale = float(torch.tensor(text_config.hidden_size**0.5, dtype=torch.bfloat16))
    return SlipConfig(
        sensor_config=sensor_config,
        text_config=text_config,
        split_layer=split_layer,
        num_caption_queries=legacy["num_img_queries"],
        caption_uses_contrastive_query=True,
        pooler_num_heads=legacy["num_heads"],
        pooler_ffn_layer_norm=True,
        projection_dim=legacy["common_dim"],
        logit_scale_max=REFERENCE_LOGIT_SCALE_MAX,
        contrastive_loss_weight=legacy.get("contrastive_loss_weight", 1.0),
        caption_loss_weight=legacy.get("caption_loss_weight", 1.0),
        num_frozen_text_layers=max(0, split_layer - legacy.get("unlocked_layers", split_layer)),
        text_layout="reference",
        attention_output_bias=False,
        text_embed_scale=bf16_embed_scale,
    )


@dataclass
class ConversionReport:
    """What a conversion mapped and what it found."""

    weights: str
    mapped: int = 0
    lm_head: str = ""
    dtype: str = ""
    parameters: int = 0
    notes: list[str] = field(default_factory=list)
    caption: str = ""

    def summary(self) -> str:
        lines = [
            f"Converted {self.weights}: {self.mapped} tensors mapped, {self.parameters / 1e6:.1f}M parameters in "
            f"{self.dtype}.",
            f"lm_head: {self.lm_head}",
            *self.notes,
            f"Check on a built-in 3-channel 50 Hz series: generated {self.caption!r}",
        ]
        return "\n".join(lines)


def map_state_dict(
    source: dict[str, torch.Tensor], model: SlipForConditionalGeneration, report: ConversionReport
) -> dict[str, torch.Tensor]:
    """Our state dict from the authors' tensors: every source key mapped, every target key filled, every shape
    checked; anything else raises a `ConversionError` naming the keys."""
    source = strip_wrapper_prefixes(source)
    split_layer = model.config.split_layer
    targets = {key: value for key, value in model.state_dict().items() if key != LM_HEAD}
    names = {key: reference_key(key, split_layer) for key in targets}
    expected = set(names.values()) | {REFERENCE_LM_HEAD}
    extra = sorted(set(source) - expected)
    if extra:
        hints = []
        if "logit_bias" in extra:
            hints.append("logit_bias belongs to a sigmoid-loss variant; SLIP's loss is the softmax CLIP loss")
        if any("lora" in key for key in extra):
            hints.append("LoRA adapter keys: merge the adapters into the weights first")
        raise ConversionError(
            f"{len(extra)} source tensors map to nothing in SlipForConditionalGeneration: {extra[:10]}"
            + (f" ({'; '.join(hints)})" if hints else "")
        )
    missing = sorted(name for name in names.values() if name not in source)
    if missing:
        raise ConversionError(f"{len(missing)} tensors of the released layout are missing: {missing[:10]}")
    misshapen = [
        f"{names[key]} {tuple(source[names[key]].shape)} (expected {tuple(value.shape)})"
        for key, value in targets.items()
        if source[names[key]].shape != value.shape
    ]
    if misshapen:
        raise ConversionError(f"Tensors of the wrong shape for this config: {misshapen[:10]}")
    mapped = {key: source[name] for key, name in names.items()}
    report.mapped = len(mapped)
    return mapped


def _tie_or_keep_lm_head(
    source: dict[str, torch.Tensor],
    mapped: dict[str, torch.Tensor],
    config: SlipConfig,
    report: ConversionReport,
) -> None:
    """Tie the LM head when the authors' separately stored copy equals the embeddings; keep it untied otherwise."""
    source = strip_wrapper_prefixes(source)
    embeddings = mapped["text_model.embed_tokens.weight"]
    if REFERENCE_LM_HEAD not in source:
        report.lm_head = "not stored; tied to the token embeddings"
        return
    head = source[REFERENCE_LM_HEAD]
    if head.shape == embeddings.shape and torch.equal(head, embeddings):
        report.lm_head = "equals the token embeddings; tied"
        return
    difference = (
        (head.float() - embeddings.float()).abs().max().item() if head.shape == embeddings.shape else math.nan
    )
    report.lm_head = f"differs from the token embeddings (max |difference| {difference:.3g}); kept untied"
    config.tie_word_embeddings = False
    config.text_config.tie_word_embeddings = False
    mapped[LM_HEAD] = head


def _check_series() -> np.ndarray:
    """A built-in (3, 500) series: 10 s of three 50 Hz accelerometer-like channels (seed 0)."""
    rng = np.random.default_rng(0)
    seconds = np.arange(500) / 50.0
    walking = np.stack([np.sin(2 * np.pi * 1.8 * seconds + phase) for phase in (0.0, 1.0, 2.0)])
    return (walking + 0.1 * rng.standard_normal(walking.shape)).astype(np.float32)


def _build_processor(tokenizer_dir: Path, max_text_length: int):
    """A processor in the authors' conventions (the converter is a command; the model package never imports
    the processor package)."""
    from processing_slip import SlipFeatureExtractor, SlipProcessor

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.model_max_length = max_text_length
    feature_extractor = SlipFeatureExtractor(normalization="mean_abs")
    return SlipProcessor(feature_extractor, tokenizer, text_layout="reference")


def _check_forward(model: SlipForConditionalGeneration, processor: Any, report: ConversionReport) -> None:
    inputs = processor(_check_series(), freq="50Hz", return_tensors="pt")
    with torch.no_grad():
        embedding = model.get_sensor_features(**inputs)
        generated = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    if not torch.isfinite(embedding).all():
        raise ConversionError("The converted model gives a non-finite sensor embedding on the check series.")
    report.caption = processor.batch_decode(generated, skip_special_tokens=True)[0]


def _prepare_output(output_dir: Path, overwrite: bool) -> None:
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite:
        raise ConversionError(f"{output_dir} is not empty; pass --overwrite to replace its contents.")


def convert(
    source_dir: str | Path,
    output_dir: str | Path,
    tokenizer_dir: str | Path,
    weights: str = "model.safetensors",
    dtype: str = "float32",
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> ConversionReport:
    """Convert `source_dir/weights` into a checkpoint directory `output_dir` (see the module docstring).

    The directory is written in a temporary sibling and moved into place at the end, so a failure leaves
    `output_dir` as it was.
    """
    source_dir, output_dir, tokenizer_dir = Path(source_dir), Path(output_dir), Path(tokenizer_dir)
    if dtype not in DTYPES:
        raise ConversionError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}.")
    _prepare_output(output_dir, overwrite)
    config_path, weights_path = source_dir / "config.json", source_dir / weights
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ConversionError(f"{path} does not exist; SOURCE must hold config.json and {weights}.")
    legacy = json.loads(config_path.read_text())
    config = slip_config_from_reference(legacy, _reference_text_config(legacy, tokenizer_dir))
    report = ConversionReport(weights=weights, dtype=dtype)
    if legacy.get("use_lora"):
        report.notes.append("The config says use_lora=true; the weights carried no adapter keys.")
    source = load_file(weights_path)
    with torch.device("meta"):
        skeleton = SlipForConditionalGeneration(config)
    mapped = map_state_dict(source, skeleton, report)
    _tie_or_keep_lm_head(source, mapped, config, report)

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        # Loading through from_pretrained lets transformers tie the head and build the non-persistent buffers.
        config.save_pretrained(staging)
        save_file({key: value.contiguous() for key, value in mapped.items()}, staging / "model.safetensors")
        model, loading = SlipForConditionalGeneration.from_pretrained(
            staging, dtype=DTYPES[dtype], output_loading_info=True
        )
        unfilled = [key for key in (*loading["missing_keys"], *loading["mismatched_keys"]) if key != LM_HEAD]
        if unfilled or loading["unexpected_keys"]:
            raise ConversionError(
                f"Loading the mapped tensors left {unfilled or loading['unexpected_keys']}."
            )
        model.eval()
        report.parameters = model.num_parameters()
        # The longest text the authors trained on (`max_llm_len`) bounds a generated caption too.
        max_length = int(legacy.get("max_llm_len", config.text_config.max_position_embeddings))
        model.generation_config = GenerationConfig(
            bos_token_id=config.text_config.bos_token_id,
            eos_token_id=config.text_config.eos_token_id,
            pad_token_id=config.text_config.pad_token_id,
            do_sample=False,
            max_new_tokens=max_length,
        )
        processor = _build_processor(tokenizer_dir, max_length)
        _check_forward(model, processor, report)
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        staging.chmod(0o755)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staging.rename(output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(report.summary())
    log(
        f"Saved to {output_dir}: load it with AutoModel / AutoModelForCausalLM / AutoProcessor after `import slip`."
    )
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help="directory with the authors' config.json and *.safetensors")
    parser.add_argument("output_dir", help="where to write the converted checkpoint")
    parser.add_argument(
        "--weights", default="model.safetensors", help=f"file to convert: {', '.join(WEIGHT_FILES)}"
    )
    parser.add_argument("--tokenizer", required=True, help="local Gemma-3 tokenizer or model directory")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTPUT_DIR")
    args = parser.parse_args(argv)
    try:
        convert(args.source, args.output_dir, args.tokenizer, args.weights, args.dtype, args.overwrite)
    except ConversionError as error:
        parser.exit(2, f"error: {error}\n")


if __name__ == "__main__":
    main()
