"""SlipModel and SlipForConditionalGeneration on the tiny preset: losses, gradients, generation, Auto save/load,
attention backends, gradient checkpointing, input errors, and the distributed CLIP loss."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from transformers import AutoModel, AutoModelForCausalLM, Trainer, TrainingArguments

from modeling_slip import (
    SlipConfig,
    SlipForConditionalGeneration,
    SlipForConditionalGenerationOutput,
    SlipModel,
    SlipOutput,
)
from modeling_slip.losses import caption_loss, clip_loss


def sensor_inputs(batch: int = 3, channels: int = 2, patches: int = 4, size: int = 8, seed: int = 0) -> dict:
    """Processor-shaped tensors: the last sample has a padded channel, a padded patch and a smaller patch size."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(batch, channels, patches, size, generator=generator)
    mask = torch.ones(batch, channels, patches, size, dtype=torch.bool)
    patch_size = torch.full((batch,), size)
    patch_size[-1] = size // 2
    mask[-1, :, :, size // 2 :] = False
    mask[-1, -1] = False
    mask[-1, :, -1] = False
    values = values * mask
    length = patches * size
    steps = torch.arange(length, dtype=torch.float32).view(1, 1, patches, size)
    time = ((steps + 1) / (length + 1)).expand(batch, channels, patches, size).clone()
    return {"sensor_values": values, "sensor_mask": mask, "sensor_time": time, "patch_size": patch_size}


def text_inputs(batch: int = 3, length: int = 6, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, 4096, (batch, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, -2:] = 0
    input_ids[0, -2:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def tiny_config(**overrides) -> SlipConfig:
    return SlipConfig.from_preset("tiny", **overrides)


@pytest.fixture(scope="module")
def coca() -> SlipForConditionalGeneration:
    torch.manual_seed(0)
    return SlipForConditionalGeneration(tiny_config()).eval()


@pytest.mark.parametrize("model_class", [SlipModel, SlipForConditionalGeneration])
def test_forward_backward_reaches_every_trainable_parameter(model_class):
    model = model_class(tiny_config()).train()
    output = model(**sensor_inputs(), **text_inputs())
    output.loss.backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert output.sensor_embeds.shape == output.text_embeds.shape == (3, model.config.projection_dim)
    assert torch.allclose(output.sensor_embeds.norm(dim=-1), torch.ones(3))


def test_loss_is_the_weighted_sum_of_both_terms():
    model = SlipForConditionalGeneration(
        tiny_config(contrastive_loss_weight=0.3, caption_loss_weight=2.0)
    ).eval()
    output = model(**sensor_inputs(), **text_inputs())
    assert isinstance(output, SlipForConditionalGenerationOutput)
    torch.testing.assert_close(output.loss, 0.3 * output.contrastive_loss + 2.0 * output.caption_loss)
    assert output.logits.shape == (3, 6, model.config.text_config.vocab_size)
    scale = model.logit_scale.exp()
    torch.testing.assert_close(output.logits_per_text, scale * output.text_embeds @ output.sensor_embeds.t())
    torch.testing.assert_close(
        output.contrastive_loss, clip_loss(output.sensor_embeds, output.text_embeds, scale)
    )


def test_caption_loss_ignores_padding_and_matches_explicit_labels(coca):
    text = text_inputs()
    labels = text["input_ids"].masked_fill(text["attention_mask"] == 0, -100)
    implicit = coca(**sensor_inputs(), **text)
    explicit = coca(**sensor_inputs(), **text, labels=labels)
    torch.testing.assert_close(implicit.caption_loss, explicit.caption_loss)
    logits = implicit.logits
    targets = text["input_ids"][:, 1:]
    keep = text["attention_mask"][:, 1:].bool()
    manual = torch.nn.functional.cross_entropy(logits[:, :-1][keep], targets[keep])
    torch.testing.assert_close(implicit.caption_loss, manual)


def test_training_forward_skips_logits_with_the_same_loss_and_gradients():
    torch.manual_seed(0)
    model = SlipForConditionalGeneration(tiny_config(caption_loss_weight=2.0)).train()
    text = text_inputs()
    results = {}
    for skip in (True, False):
        model.zero_grad()
        torch.manual_seed(1)  # the same dropout masks in both passes
        output = model(**sensor_inputs(), **text, skip_logits=skip)
        output.loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results[skip] = output, grads
    (skipped, skipped_grads), (full, full_grads) = results[True], results[False]
    assert skipped.logits is None and full.logits is not None
    torch.testing.assert_close(skipped.caption_loss, full.caption_loss)
    torch.testing.assert_close(skipped.loss, full.loss)
    assert skipped_grads.keys() == full_grads.keys()
    for name, grad in full_grads.items():
        torch.testing.assert_close(skipped_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    assert model(**sensor_inputs(), **text).logits is None
    assert model(**sensor_inputs(), **text, return_loss=False).logits is not None
    with pytest.raises(ValueError, match="skip_logits"):
        model(**sensor_inputs(), **text, return_loss=False, skip_logits=True)


def test_supervised_finetuning_skips_the_contrastive_term(coca):
    text = text_inputs()
    labels = text["input_ids"].clone()
    labels[:, :3] = -100
    output = coca(**sensor_inputs(), **text, labels=labels, contrastive=False)
    assert output.contrastive_loss is None and output.text_embeds is None
    torch.testing.assert_close(output.loss, coca.config.caption_loss_weight * output.caption_loss)
    weightless = SlipForConditionalGeneration(tiny_config(contrastive_loss_weight=0.0)).eval()
    assert weightless(**sensor_inputs(), **text).contrastive_loss is None


def test_dual_encoder_features(coca):
    dual = SlipModel(tiny_config()).eval()
    sensors, text = sensor_inputs(), text_inputs()
    with torch.no_grad():
        output = dual(**sensors, **text)
        sensor_features = dual.get_sensor_features(**sensors)
        text_features = dual.get_text_features(**text)
        patch_features = dual.get_mean_token_features(**sensors)
        encoded = dual.sensor_model(**sensors)
    assert isinstance(output, SlipOutput)
    torch.testing.assert_close(output.sensor_embeds, sensor_features)
    torch.testing.assert_close(output.text_embeds, text_features)
    torch.testing.assert_close(output.logits_per_sensor, output.logits_per_text.t())
    valid = encoded.token_mask[-1]
    torch.testing.assert_close(patch_features[-1], encoded.last_hidden_state[-1][valid].mean(dim=0))
    assert patch_features.shape == (3, dual.config.sensor_config.hidden_size)


def test_logit_scale_is_clamped():
    model = SlipModel(tiny_config())
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.scaled_logit_scale().item() == pytest.approx(model.config.logit_scale_max)
    assert "logit_scale" in model.no_weight_decay_parameter_names()


def test_generate_with_cache_equals_without_cache(coca):
    sensors = sensor_inputs()
    with_cache = coca.generate(**sensors, max_new_tokens=6, do_sample=False, use_cache=True)
    without_cache = coca.generate(**sensors, max_new_tokens=6, do_sample=False, use_cache=False)
    assert with_cache.shape == (3, 7)
    assert torch.equal(with_cache, without_cache)
    assert (with_cache[:, 0] == coca.config.text_config.bos_token_id).all()


def test_generate_with_left_padded_prompt_matches_unpadded(coca):
    sensors = sensor_inputs()
    prompt = torch.randint(3, 4096, (3, 4), generator=torch.Generator().manual_seed(3))
    padded = torch.cat([torch.zeros(3, 2, dtype=torch.long), prompt], dim=1)
    mask = torch.cat([torch.zeros(3, 2, dtype=torch.long), torch.ones(3, 4, dtype=torch.long)], dim=1)
    plain = coca.generate(**sensors, input_ids=prompt, max_new_tokens=5, do_sample=False)
    left = coca.generate(**sensors, input_ids=padded, attention_mask=mask, max_new_tokens=5, do_sample=False)
    uncached = coca.generate(
        **sensors, input_ids=padded, attention_mask=mask, max_new_tokens=5, do_sample=False, use_cache=False
    )
    assert torch.equal(left[:, 2:], plain)
    assert torch.equal(left, uncached)
    with pytest.raises(ValueError, match="left-padded"):
        coca.generate(**sensors, input_ids=prompt, attention_mask=torch.tensor([[1, 1, 1, 0]] * 3))


@pytest.mark.parametrize(
    ("model_class", "auto_class"),
    [(SlipModel, AutoModel), (SlipForConditionalGeneration, AutoModelForCausalLM)],
)
def test_save_and_reload_through_auto_classes(model_class, auto_class, tmp_path):
    model = model_class(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert not list(tmp_path.glob("*.bin"))
    reloaded = auto_class.from_pretrained(tmp_path).eval()
    assert type(reloaded) is model_class
    inputs = {**sensor_inputs(), **text_inputs()}
    with torch.no_grad():
        before, after = model(**inputs), reloaded(**inputs)
    torch.testing.assert_close(after.loss, before.loss, rtol=0, atol=0)
    torch.testing.assert_close(after.logits_per_sensor, before.logits_per_sensor, rtol=0, atol=0)


def test_dual_encoder_loads_a_generation_checkpoint(coca, tmp_path):
    coca.save_pretrained(tmp_path)
    dual = AutoModel.from_pretrained(tmp_path).eval()
    assert type(dual) is SlipModel
    inputs = {**sensor_inputs(), **text_inputs()}
    with torch.no_grad():
        full = coca(**inputs)
        torch.testing.assert_close(dual(**inputs).logits_per_sensor, full.logits_per_sensor)


def test_eager_and_sdpa_agree():
    torch.manual_seed(0)
    model = SlipForConditionalGeneration(tiny_config()).eval()
    inputs = {**sensor_inputs(), **text_inputs()}
    outputs = {}
    for implementation in ("eager", "sdpa"):
        model.set_attn_implementation(implementation)
        assert model.config.text_config._attn_implementation == implementation
        assert model.config.sensor_config._attn_implementation == implementation
        with torch.no_grad():
            outputs[implementation] = model(**inputs)
    for key in ("logits", "logits_per_sensor", "loss"):
        torch.testing.assert_close(outputs["eager"][key], outputs["sdpa"][key], atol=1e-4, rtol=1e-4)


def test_gradient_checkpointing_gives_the_same_gradients():
    config = tiny_config(cross_attention_dropout=0.0)
    torch.manual_seed(0)
    model = SlipForConditionalGeneration(config).train()
    inputs = {**sensor_inputs(), **text_inputs()}
    gradients = []
    for checkpointing in (False, True):
        if checkpointing:
            # transformers >= 5.2x renames the method; 5.17 only has the old name.
            enable = getattr(model, "activation_checkpointing_enable", model.gradient_checkpointing_enable)
            enable()
            assert model.text_model.layers[0].gradient_checkpointing
            assert model.text_model.cross_attention_layers[0].gradient_checkpointing
        model.zero_grad()
        model(**inputs).loss.backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    for name, grad in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_clear_errors_for_bad_inputs(coca):
    sensors, text = sensor_inputs(), text_inputs()
    with pytest.raises(ValueError, match="3 samples but the text inputs 2"):
        coca(**sensors, input_ids=text["input_ids"][:2], attention_mask=text["attention_mask"][:2])
    with pytest.raises(ValueError, match="4 dimensions"):
        coca(**{**sensors, "sensor_values": sensors["sensor_values"][:, 0]}, **text)
    big = tiny_config().sensor_config.max_patch_size + 1
    too_large = sensor_inputs(size=big)
    with pytest.raises(ValueError, match="max_patch_size"):
        coca(**too_large, **text)
    with pytest.raises(ValueError, match="all four sensor inputs"):
        coca(sensor_values=sensors["sensor_values"], **text)
    with pytest.raises(ValueError, match="raw sensor inputs"):
        coca(**text, sensor_context=torch.zeros(3, 16, 128), contrastive=True)
    with pytest.raises(ValueError, match="needs input_ids"):
        SlipModel(tiny_config())(**sensors)


def test_trainer_does_not_pass_num_items_in_batch(coca, tmp_path):
    trainer = Trainer(
        model=coca, args=TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    )
    assert trainer.model_accepts_loss_kwargs is False


def test_caption_loss_without_targets_raises():
    with pytest.raises(ValueError, match="no target token"):
        caption_loss(torch.zeros(1, 3, 5), torch.full((1, 3), -100))


def _distributed_clip_worker(rank: int, port: int, sensor, text, scale, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    rows = slice(0, 3) if rank == 0 else slice(3, 5)  # uneven shards: the last batch of an epoch
    local_sensor = sensor[rows].clone().requires_grad_(True)
    local_text = text[rows].clone().requires_grad_(True)
    loss = clip_loss(local_sensor, local_text, scale)
    loss.backward()
    results[rank] = (loss.detach(), local_sensor.grad, local_text.grad)
    dist.destroy_process_group()


def test_clip_loss_sees_the_global_batch_across_processes():
    generator = torch.Generator().manual_seed(0)
    sensor = torch.nn.functional.normalize(torch.randn(5, 8, generator=generator), dim=-1)
    text = torch.nn.functional.normalize(torch.randn(5, 8, generator=generator), dim=-1)
    scale = torch.tensor(5.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # spawn, not fork: a forked child deadlocks in the OpenMP pool the parent's earlier torch ops started.
    context = mp.get_context("spawn")
    results = context.Manager().dict()
    mp.start_processes(
        _distributed_clip_worker, args=(port, sensor, text, scale, results), nprocs=2, start_method="spawn"
    )

    global_sensor, global_text = sensor.clone().requires_grad_(True), text.clone().requires_grad_(True)
    logits = scale * global_sensor @ global_text.t()
    labels = torch.arange(5)
    per_row = (
        torch.nn.functional.cross_entropy(logits, labels, reduction="none")
        + torch.nn.functional.cross_entropy(logits.t(), labels, reduction="none")
    ) / 2
    for rank, rows in ((0, slice(0, 3)), (1, slice(3, 5))):
        torch.testing.assert_close(results[rank][0], per_row[rows].mean())
    # Each rank's gradient (before DDP averaging) is d(own loss)/d(own rows) including the paths through the
    # other rank's loss that all_gather routes back: sum over ranks of d(loss_r)/d(rows).
    total = per_row[0:3].mean() + per_row[3:5].mean()
    total.backward()
    torch.testing.assert_close(results[0][1], global_sensor.grad[0:3])
    torch.testing.assert_close(results[1][2], global_text.grad[3:5])
