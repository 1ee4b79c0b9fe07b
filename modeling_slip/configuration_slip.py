"""Configuration of SLIP: a sensor tower, an attention pooler and a split Gemma-3 text tower."""

from __future__ import annotations

import math
from typing import Any

from transformers import Gemma3TextConfig, PretrainedConfig

PATCH_RESIZE_MODES = ("pinv", "linear_joint")
ATTENTION_TYPES = ("full", "group")
TEXT_LAYOUTS = ("slip", "reference")
"""How captions are laid out and where the text embedding is read (`SlipConfig.text_layout`); the processor
follows the same setting (`SlipProcessor.text_layout`).

- "slip": `<bos> caption <eos>`, right padded; the embedding is the state at the last attended token (<eos>).
- "reference": the SLIP authors' layout, for their weights: `<bos> caption` with no <eos>, left padded; the
  embedding is the state at the token before the last attended one (the last position of `ids[:, :-1]`).
"""

EARLIER_CHECKPOINT_VALUES = {"pooler_ffn_layer_norm": False}
"""Fields added after slip 0.1.0 whose default for new models differs from how older checkpoints were built: a
saved config without the field gets this value, so those checkpoints keep loading and computing as before."""

REFERENCE_CONFIG_FIELDS = ("llm_model_name", "sensor_encoder", "num_img_queries", "common_dim")
"""Fields of the SLIP authors' own `config.json`, which shares our model type "slip" but none of our fields."""

COPY_WITHOUT_METADATA = (
    "copy_metadata=True copies from the series metadata, which the model reads only with series_metadata=True; "
    "pass both."
)

CONVERTER_COMMAND = "python -m modeling_slip.convert_reference_checkpoint SOURCE OUTPUT_DIR"


class SlipSensorConfig(PretrainedConfig):
    """Sensor encoder: FlexMLP patch embedder + Pre-LN transformer with 2D RoPE over (channel, patch).

    Dropout: `embedding_dropout` in the FlexMLP, `attention_dropout` on attention probabilities, `hidden_dropout`
    on the attention residual and `mlp_dropout` on the FFN residual (default: `hidden_dropout`; the SLIP authors'
    weights were finetuned with 0 there).
    """

    model_type = "slip_sensor"
    base_config_key = "sensor_config"

    def __init__(
        self,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        base_patch_size: int = 32,
        max_patch_size: int = 128,
        patch_resize_mode: str = "pinv",
        rope_theta: float = 10000.0,
        rope_channel_fraction: float = 0.5,
        attention_type: str = "full",
        qkv_bias: bool = True,
        embedding_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        attention_dropout: float = 0.0,
        mlp_dropout: float | None = None,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        **kwargs: Any,
    ):
        if patch_resize_mode not in PATCH_RESIZE_MODES:
            raise ValueError(
                f"patch_resize_mode must be one of {PATCH_RESIZE_MODES}, got {patch_resize_mode!r}"
            )
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type must be one of {ATTENTION_TYPES}, got {attention_type!r}")
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_attention_heads ({num_attention_heads})"
            )
        if not 0.0 < rope_channel_fraction < 1.0:
            raise ValueError(f"rope_channel_fraction must lie in (0, 1), got {rope_channel_fraction}")
        if max_patch_size < 1 or base_patch_size < 1:
            raise ValueError("base_patch_size and max_patch_size must be positive")
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.base_patch_size = base_patch_size
        self.max_patch_size = max_patch_size
        self.patch_resize_mode = patch_resize_mode
        self.rope_theta = rope_theta
        self.rope_channel_fraction = rope_channel_fraction
        self.attention_type = attention_type
        self.qkv_bias = qkv_bias
        self.embedding_dropout = embedding_dropout
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.mlp_dropout = hidden_dropout if mlp_dropout is None else mlp_dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        super().__init__(**kwargs)


def _gemma3_layer_types(num_layers: int, full_every: int) -> list[str]:
    return ["full_attention" if (i + 1) % full_every == 0 else "sliding_attention" for i in range(num_layers)]


def gemma3_270m_text_config(**overrides: Any) -> Gemma3TextConfig:
    """The geometry of Gemma-3-270M: hidden 640, 18 layers, 4 heads / 1 KV head of 256, sliding window 512 with
    full attention every sixth layer, vocabulary 262,144."""
    kwargs: dict[str, Any] = dict(
        vocab_size=262144,
        hidden_size=640,
        intermediate_size=2048,
        num_hidden_layers=18,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=256,
        query_pre_attn_scalar=256,
        sliding_window=512,
        layer_types=_gemma3_layer_types(18, 6),
        max_position_embeddings=32768,
        rope_parameters={
            "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
        },
        rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh",
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    kwargs.update(overrides)
    return Gemma3TextConfig(**kwargs)


def tiny_text_config(**overrides: Any) -> Gemma3TextConfig:
    """A Gemma3 text config of a few hundred thousand parameters for tests and CPU demos."""
    kwargs: dict[str, Any] = dict(
        vocab_size=4096,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        query_pre_attn_scalar=64,
        sliding_window=64,
        layer_types=_gemma3_layer_types(4, 2),
        max_position_embeddings=1024,
    )
    kwargs.update(overrides)
    return gemma3_270m_text_config(**kwargs)


class SlipConfig(PretrainedConfig):
    """SLIP = CoCa for sensors. `text_config` is a `Gemma3TextConfig`; its layers [0, split_layer) encode
    text, layers [split_layer, num_hidden_layers) decode captions with cross-attention to sensor tokens.

    Settings that reproduce the SLIP authors' weights (set by `convert_reference_checkpoint`; the defaults are
    this package's own choices for models it trains): `text_layout="reference"` (see `TEXT_LAYOUTS`),
    `caption_uses_contrastive_query=True` (all 1 + num_caption_queries pooled tokens are the decoder's context),
    `logit_scale_max=1 / 0.07`, `attention_output_bias=False` (no bias on the output projections of the pooler
    and the decoder's cross-attention), `text_embed_scale` (Gemma's sqrt(hidden_size) embedding scale as their
    bf16 runs computed it, 25.25 for width 640; None: sqrt(hidden_size)) and the sensor config's dropouts.

    `series_metadata=True` (an extension of the method, off by default and in the authors' weights): the decoder
    also cross-attends to each series' metadata ("6 channels", "128 steps", "50 Hz", written by
    `SlipProcessor(series_metadata=True)`; `modeling_slip.series_metadata`), so captions can state the length
    and rate the sensor tensors do not carry. The sensor and text embeddings do not see it. `copy_metadata=True`
    (with `series_metadata`) also lets the decoder copy metadata tokens into its captions
    (`modeling_slip.metadata_copy`).
    """

    model_type = "slip"
    sub_configs = {"sensor_config": SlipSensorConfig, "text_config": Gemma3TextConfig}

    def __init__(
        self,
        sensor_config: SlipSensorConfig | dict | None = None,
        text_config: Gemma3TextConfig | dict | None = None,
        split_layer: int = 12,
        num_caption_queries: int = 64,
        caption_uses_contrastive_query: bool = False,
        pooler_num_heads: int = 5,
        pooler_ffn_layer_norm: bool = True,
        pooler_intermediate_size: int | None = None,
        projection_dim: int | None = None,
        cross_attention_num_heads: int = 4,
        cross_attention_dropout: float = 0.1,
        zero_init_cross_attention: bool = False,
        logit_scale_init_value: float = math.log(1 / 0.07),
        logit_scale_max: float = 100.0,
        contrastive_loss_weight: float = 1.0,
        caption_loss_weight: float = 1.0,
        freeze_text_embeddings: bool = True,
        num_frozen_text_layers: int = 8,
        text_layout: str = "slip",
        attention_output_bias: bool = True,
        text_embed_scale: float | None = None,
        series_metadata: bool = False,
        copy_metadata: bool = False,
        **kwargs: Any,
    ):
        if text_layout not in TEXT_LAYOUTS:
            raise ValueError(f"text_layout must be one of {TEXT_LAYOUTS}, got {text_layout!r}.")
        if sensor_config is None:
            sensor_config = SlipSensorConfig()
        elif isinstance(sensor_config, dict):
            sensor_config = SlipSensorConfig(**sensor_config)
        if text_config is None:
            text_config = gemma3_270m_text_config()
        elif isinstance(text_config, dict):
            text_config = Gemma3TextConfig(**{k: v for k, v in text_config.items() if k != "model_type"})
        if not 0 < split_layer < text_config.num_hidden_layers:
            raise ValueError(
                f"split_layer must lie in (0, {text_config.num_hidden_layers}) so that both the text encoder "
                f"and the multimodal decoder have layers, got {split_layer}"
            )
        if copy_metadata and not series_metadata:
            raise ValueError(COPY_WITHOUT_METADATA)
        if not 0 <= num_frozen_text_layers <= split_layer:
            raise ValueError(f"num_frozen_text_layers must lie in [0, split_layer={split_layer}]")
        width = text_config.hidden_size
        if width % pooler_num_heads or width % cross_attention_num_heads:
            raise ValueError(
                f"text hidden_size ({width}) must be divisible by pooler_num_heads ({pooler_num_heads}) "
                f"and cross_attention_num_heads ({cross_attention_num_heads})"
            )
        self.sensor_config = sensor_config
        self.text_config = text_config
        self.split_layer = split_layer
        self.num_caption_queries = num_caption_queries
        self.caption_uses_contrastive_query = caption_uses_contrastive_query
        self.pooler_num_heads = pooler_num_heads
        self.pooler_ffn_layer_norm = pooler_ffn_layer_norm
        self.pooler_intermediate_size = pooler_intermediate_size or 4 * width
        self.projection_dim = projection_dim or width
        self.cross_attention_num_heads = cross_attention_num_heads
        self.cross_attention_dropout = cross_attention_dropout
        self.zero_init_cross_attention = zero_init_cross_attention
        self.logit_scale_init_value = logit_scale_init_value
        self.logit_scale_max = logit_scale_max
        self.contrastive_loss_weight = contrastive_loss_weight
        self.caption_loss_weight = caption_loss_weight
        self.freeze_text_embeddings = freeze_text_embeddings
        self.num_frozen_text_layers = num_frozen_text_layers
        self.text_layout = text_layout
        self.attention_output_bias = attention_output_bias
        self.text_embed_scale = text_embed_scale
        self.series_metadata = series_metadata
        self.copy_metadata = copy_metadata
        kwargs.setdefault("tie_word_embeddings", text_config.tie_word_embeddings)
        super().__init__(**kwargs)

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> SlipConfig:
        """Read a saved config: the SLIP authors' format is refused with the converter to use, and fields a
        checkpoint predates take the value it was built with (`EARLIER_CHECKPOINT_VALUES`)."""
        reference_fields = [name for name in REFERENCE_CONFIG_FIELDS if name in config_dict]
        if reference_fields:
            raise ValueError(
                f"This config.json is the SLIP authors' own format (it has {reference_fields}), which these classes "
                f"cannot read directly. Convert the checkpoint once with `{CONVERTER_COMMAND}` and load OUTPUT_DIR."
            )
        return super().from_dict({**EARLIER_CHECKPOINT_VALUES, **config_dict}, **kwargs)

    @property
    def num_pooler_queries(self) -> int:
        return 1 + self.num_caption_queries

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> SlipConfig:
        """Named sizes: "base" (paper), "small" (~40M sensor encoder, paper ablation), "tiny" (tests, CPU)."""
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        kwargs = PRESETS[name]()
        kwargs.update(overrides)
        return cls(**kwargs)


def _base_preset() -> dict[str, Any]:
    return dict(sensor_config=SlipSensorConfig(), text_config=gemma3_270m_text_config(), split_layer=12)


def _small_preset() -> dict[str, Any]:
    sensor = SlipSensorConfig(
        hidden_size=512, num_hidden_layers=10, num_attention_heads=8, intermediate_size=2048
    )
    return dict(sensor_config=sensor, text_config=gemma3_270m_text_config(), split_layer=12)


def _tiny_preset() -> dict[str, Any]:
    sensor = SlipSensorConfig(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512
    )
    return dict(
        sensor_config=sensor,
        text_config=tiny_text_config(),
        split_layer=2,
        num_caption_queries=16,
        pooler_num_heads=4,
        cross_attention_num_heads=4,
        freeze_text_embeddings=False,
        num_frozen_text_layers=0,
    )


PRESETS = {"base": _base_preset, "small": _small_preset, "tiny": _tiny_preset}
