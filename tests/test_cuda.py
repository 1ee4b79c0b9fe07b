"""Checks that only a CUDA device can make (skipped without one): a padding-free training step asks the host for
nothing under CUDA's own synchronisation check, gives the padded step's losses on the GPU, and the fused
attention backends agree with eager attention in bfloat16."""

import pytest
import torch
from test_padding_free import mixed_batch, model

from modeling_slip import SlipForConditionalGeneration
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer
from training_slip.collators import padding_free

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CAPTIONS = ["Walking upstairs at 50 Hz.", "Still.", "Heart rate rises, then falls.", "A glucose spike."]


@pytest.fixture(scope="module")
def processor() -> SlipProcessor:
    tokenizer = train_caption_tokenizer(CAPTIONS * 4, vocab_size=300, min_frequency=1)
    return SlipProcessor(SlipFeatureExtractor(target_patches=4), tokenizer)


def on_cuda(batch: dict) -> dict:
    return {key: value.cuda() if isinstance(value, torch.Tensor) else value for key, value in batch.items()}


def test_a_padding_free_step_never_synchronises_with_the_host(processor):
    slip = model(SlipForConditionalGeneration, "sdpa").cuda()
    optimizer = torch.optim.AdamW(slip.parameters(), lr=1e-4, fused=True)
    inputs = on_cuda(padding_free(mixed_batch(processor), captions=True))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any synchronising CUDA call raises
    try:
        for _ in range(2):  # the second step runs with the optimiser state allocated
            slip(**inputs).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_padding_free_losses_equal_padded_on_the_gpu(processor):
    slip = model(SlipForConditionalGeneration, "sdpa").cuda()
    padded = on_cuda(mixed_batch(processor))
    packed = on_cuda(padding_free(mixed_batch(processor), captions=True))
    with torch.no_grad():
        padded_output, packed_output = slip(**padded), slip(**packed)
    for name in ("contrastive_loss", "caption_loss"):
        torch.testing.assert_close(packed_output[name], padded_output[name], rtol=1e-4, atol=1e-5, msg=name)


def test_sdpa_agrees_with_eager_in_bfloat16(processor):
    batch = {
        key: value.to(torch.bfloat16) if value.is_floating_point() else value
        for key, value in on_cuda(mixed_batch(processor)).items()
    }
    outputs = {}
    for implementation in ("eager", "sdpa"):
        slip = model(SlipForConditionalGeneration, implementation).cuda().to(torch.bfloat16).eval()
        with torch.no_grad():
            outputs[implementation] = slip(**batch)
    for name in ("sensor_embeds", "text_embeds"):
        torch.testing.assert_close(
            outputs["sdpa"][name].float(), outputs["eager"][name].float(), rtol=2e-2, atol=2e-2, msg=name
        )
