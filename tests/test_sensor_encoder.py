"""Sensor encoder: padding invariance, mixed patch sizes, attention backends, checkpointing, dropout, gradients."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import PreTrainedModel

from modeling_slip.attention_pooler import SlipAttentionPooler
from modeling_slip.configuration_slip import SlipConfig, SlipSensorConfig, tiny_text_config
from modeling_slip.rotary import padding_aware_positions
from modeling_slip.sensor_encoder import SlipSensorEncoder
from modeling_slip.sensor_inputs import _VALUE_CHECK_MESSAGES

# (channels, length, patch size) of the samples every batch below is built from
SAMPLES = [(2, 37, 8), (3, 20, 4), (1, 64, 16)]


def sensor_config(attention_type: str = "full", **overrides) -> SlipSensorConfig:
    kwargs = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        base_patch_size=8,
        max_patch_size=32,
        attention_type=attention_type,
    )
    kwargs.update(overrides)
    return SlipSensorConfig(**kwargs)


def make_encoder(attention_type: str = "full", attn_implementation: str | None = None, **overrides):
    config = sensor_config(attention_type, **overrides)
    config._attn_implementation = attn_implementation
    return SlipSensorEncoder(config).eval()


def sample_patches(channels: int, length: int, patch_size: int, seed: int) -> dict[str, torch.Tensor]:
    """One series cut into patches by hand: (C, P, ps), zeros and mask False after the series ends."""
    generator = torch.Generator().manual_seed(seed)
    patches = math.ceil(length / patch_size)
    steps = patches * patch_size
    observed = torch.arange(steps) < length
    values = torch.randn(channels, steps, generator=generator) * observed
    time = (torch.arange(steps, dtype=torch.float32) + 1) / (length + 1) * observed
    return {
        "sensor_values": values.view(channels, patches, patch_size),
        "sensor_mask": observed.expand(channels, steps).reshape(channels, patches, patch_size),
        "sensor_time": time.expand(channels, steps).reshape(channels, patches, patch_size),
        "patch_size": torch.tensor(patch_size),
    }


def collate(samples, extra_channels: int = 0, extra_patches: int = 0, left_pad_patches: bool = False):
    """Pad samples to one (B, C, P, S) batch; optionally with more padding than needed or patches padded on the
    left."""
    channels = max(s["sensor_values"].shape[0] for s in samples) + extra_channels
    patches = max(s["sensor_values"].shape[1] for s in samples) + extra_patches
    width = max(s["sensor_values"].shape[2] for s in samples)
    batch = {}
    for key in ("sensor_values", "sensor_mask", "sensor_time"):
        padded = torch.zeros(len(samples), channels, patches, width, dtype=samples[0][key].dtype)
        for index, sample in enumerate(samples):
            c, p, s = sample[key].shape
            start = patches - p if left_pad_patches else 0
            padded[index, :c, start : start + p, :s] = sample[key]
        batch[key] = padded
    batch["patch_size"] = torch.stack([s["patch_size"] for s in samples])
    return batch


def valid_tokens(
    tokens: torch.Tensor, batch, index: int, sample, left_pad_patches: bool = False
) -> torch.Tensor:
    """The (C_i, P_i, d) tokens of sample `index` out of a (B, C*P, d) encoder output."""
    _, channels, patches, _ = batch["sensor_values"].shape
    c, p, _ = sample["sensor_values"].shape
    start = patches - p if left_pad_patches else 0
    return tokens[index].view(channels, patches, -1)[:c, start : start + p]


def make_samples():
    return [sample_patches(*spec, seed=index) for index, spec in enumerate(SAMPLES)]


@pytest.mark.parametrize("attention_type", ["full", "group"])
def test_mixed_patch_size_batch_matches_samples_one_by_one(attention_type):
    encoder = make_encoder(attention_type)
    samples = make_samples()
    batch = collate(samples)
    out = encoder(**batch)
    assert out.last_hidden_state.shape == (3, 3 * 5, 32)
    for index, sample in enumerate(samples):
        alone = encoder(**collate([sample])).last_hidden_state[0].view(*sample["sensor_values"].shape[:2], -1)
        torch.testing.assert_close(
            valid_tokens(out.last_hidden_state, batch, index, sample), alone, atol=1e-5, rtol=1e-5
        )
        expected_mask = sample["sensor_mask"].any(-1)
        assert torch.equal(
            valid_tokens(out.token_mask[..., None], batch, index, sample)[..., 0], expected_mask
        )


@pytest.mark.parametrize("attention_type", ["full", "group"])
@pytest.mark.parametrize("left_pad_patches", [False, True])
def test_extra_padding_never_changes_valid_tokens(attention_type, left_pad_patches):
    encoder = make_encoder(attention_type)
    samples = make_samples()
    tight = collate(samples)
    loose = collate(samples, extra_channels=2, extra_patches=3, left_pad_patches=left_pad_patches)
    tight_out = encoder(**tight).last_hidden_state
    loose_out = encoder(**loose).last_hidden_state
    assert torch.isfinite(loose_out).all()
    for index, sample in enumerate(samples):
        torch.testing.assert_close(
            valid_tokens(loose_out, loose, index, sample, left_pad_patches),
            valid_tokens(tight_out, tight, index, sample),
            atol=1e-5,
            rtol=1e-5,
        )


def test_positions_count_valid_patches_and_channels():
    patch_valid = torch.tensor([[[False, True, True], [False, False, False], [True, False, True]]])
    channel_position, patch_position = padding_aware_positions(patch_valid)
    assert patch_position[0].tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 1]]
    assert channel_position[0, :, 0].tolist() == [0, 0, 1]


@pytest.mark.parametrize("attention_type", ["full", "group"])
def test_eager_and_sdpa_agree(attention_type):
    eager = make_encoder(attention_type, "eager")
    sdpa = make_encoder(attention_type, "sdpa")
    sdpa.load_state_dict(eager.state_dict())
    batch = collate(make_samples(), extra_channels=1, extra_patches=2)
    eager_out, sdpa_out = eager(**batch), sdpa(**batch)
    valid = eager_out.token_mask
    torch.testing.assert_close(
        eager_out.last_hidden_state[valid], sdpa_out.last_hidden_state[valid], atol=1e-5, rtol=1e-5
    )


def test_eager_attention_weights_ignore_padding():
    encoder = make_encoder("full", "eager")
    batch = collate(make_samples(), extra_patches=1)
    out = encoder(**batch, output_attentions=True, output_hidden_states=True)
    assert len(out.hidden_states) == 3 and len(out.attentions) == 2
    weights = out.attentions[0]  # (B, heads, C*P, C*P): one tensor per layer
    assert weights.shape == (3, 2, 3 * 6, 3 * 6)
    assert torch.all(weights[..., ~out.token_mask[0]][0] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


def test_unknown_or_missing_attention_backends():
    batch = collate(make_samples())
    with pytest.raises(ValueError, match="not supported"):
        make_encoder(attn_implementation="flex_attention")(**batch)
    # flash-attn is not installed on CPU: the encoder falls back to sdpa and gives the same result
    flash = make_encoder(attn_implementation="flash_attention_2")
    sdpa = make_encoder(attn_implementation="sdpa")
    sdpa.load_state_dict(flash.state_dict())
    torch.testing.assert_close(flash(**batch).last_hidden_state, sdpa(**batch).last_hidden_state)


def test_dropout_only_in_training():
    encoder = make_encoder(embedding_dropout=0.3, hidden_dropout=0.3, attention_dropout=0.3)
    batch = collate(make_samples())
    torch.testing.assert_close(
        encoder(**batch).last_hidden_state, encoder(**batch).last_hidden_state, rtol=0, atol=0
    )
    encoder.train()
    assert not torch.allclose(encoder(**batch).last_hidden_state, encoder(**batch).last_hidden_state)


class EncoderModel(PreTrainedModel):
    """A minimal PreTrainedModel around the encoder, to use transformers' gradient checkpointing switch."""

    config_class = SlipSensorConfig
    base_model_prefix = "encoder"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: SlipSensorConfig):
        super().__init__(config)
        self.encoder = SlipSensorEncoder(config)
        self.post_init()

    def forward(self, **inputs):
        return self.encoder(**inputs)


def gradients(model: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
    model.zero_grad()
    out = model(**batch)
    weights = torch.linspace(-1, 1, out.last_hidden_state.shape[-1])
    (out.last_hidden_state[out.token_mask] * weights).sum().backward()
    return {name: parameter.grad.clone() for name, parameter in model.named_parameters()}


@pytest.mark.parametrize("attention_type", ["full", "group"])
@pytest.mark.parametrize("use_reentrant", [False, True])
def test_gradient_checkpointing_gives_identical_gradients(attention_type, use_reentrant):
    plain = EncoderModel(sensor_config(attention_type)).train()
    checkpointed = EncoderModel(sensor_config(attention_type)).train()
    checkpointed.load_state_dict(plain.state_dict())
    kwargs = {"use_reentrant": use_reentrant}
    if hasattr(checkpointed, "activation_checkpointing_enable"):  # transformers >= 5.23 renamed the switch
        checkpointed.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        checkpointed.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    assert all(layer.gradient_checkpointing for layer in checkpointed.encoder.layers)
    batch = collate(make_samples())
    expected, actual = gradients(plain, batch), gradients(checkpointed, batch)
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.parametrize("attention_type", ["full", "group"])
def test_every_parameter_gets_a_gradient(attention_type):
    encoder = make_encoder(attention_type).train()
    for name, grad in gradients(encoder, collate(make_samples(), extra_channels=1)).items():
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_contract_errors_surface():
    batch = collate(make_samples())
    with pytest.raises(ValueError, match="max_patch_size=8"):
        make_encoder(max_patch_size=8)(**batch)
    encoder = make_encoder()
    with pytest.raises(ValueError, match="bool"):
        encoder(**{**batch, "sensor_mask": batch["sensor_mask"].float()})
    empty = batch["sensor_mask"].clone()
    empty[1] = False
    # A value check: a sync-free assertion (RuntimeError on CPU), see modeling_slip/sensor_inputs.py.
    with pytest.raises(RuntimeError, match="no observed value"):
        encoder(**{**batch, "sensor_mask": empty})


def test_value_check_messages_fit_cuda_assertions():
    # CUDA's _assert_async raises "Message length must be smaller than 255" for longer messages, on every input.
    assert all(len(message) < 255 for message in _VALUE_CHECK_MESSAGES.values())


def test_encoder_and_pooler_on_a_mixed_batch_match_samples_one_by_one():
    config = SlipConfig(
        sensor_config=sensor_config(),
        text_config=tiny_text_config(hidden_size=24, num_attention_heads=2, head_dim=12),
        split_layer=2,
        num_caption_queries=4,
        pooler_num_heads=3,
        cross_attention_num_heads=2,
        num_frozen_text_layers=0,
    )
    encoder = SlipSensorEncoder(config.sensor_config).eval()
    pooler = SlipAttentionPooler(config).eval()
    samples = make_samples()
    out = encoder(**collate(samples, extra_channels=1, extra_patches=2))
    pooled = pooler(out.last_hidden_state, out.token_mask)
    assert pooled.shape == (3, 5, 24)
    for index, sample in enumerate(samples):
        alone = encoder(**collate([sample]))
        torch.testing.assert_close(
            pooled[index], pooler(alone.last_hidden_state, alone.token_mask)[0], atol=1e-5, rtol=1e-5
        )
