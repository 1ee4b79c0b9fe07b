"""A padding-free training step (valid sensor tokens only, packed captions) gives the padded step's losses and
gradients, and a training step reads nothing back from the device."""

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from modeling_slip import SlipConfig, SlipForConditionalGeneration, SlipModel
from modeling_slip.packing import pack_captions, sensor_token_index
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer
from training_slip.collators import padding_free

CAPTIONS = [
    "A person walking upstairs, sampled at 50 Hz, 6 channels.",
    "Still.",
    "Heart rate rises slowly over ten minutes, then falls back to 60 beats per minute.",
    "A glucose trace with a spike.",
]


@pytest.fixture(scope="module")
def processor() -> SlipProcessor:
    tokenizer = train_caption_tokenizer(CAPTIONS * 4, vocab_size=300, min_frequency=1)
    return SlipProcessor(SlipFeatureExtractor(target_patches=4), tokenizer)


def mixed_batch(processor: SlipProcessor) -> dict:
    """Mixed lengths, channel counts and patch sizes; right-padded captions of very different lengths."""
    rng = np.random.default_rng(0)
    series = [rng.standard_normal(shape) for shape in [(3, 90), (1, 20), (2, 47), (6, 128)]]
    batch = processor(series, freq="50Hz", text=CAPTIONS, patch_size=[8, 4, 16, 8], return_tensors="pt")
    batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    batch["labels"][:, 0] = -100
    return dict(batch)


def model(model_class, attn_implementation: str):
    """Tiny, with every dropout off so that both layouts compute the same function."""
    torch.manual_seed(0)
    config = SlipConfig.from_preset("tiny", cross_attention_dropout=0.0)
    config.text_config.vocab_size = 300
    config.text_config.attention_dropout = 0.0
    return model_class._from_config(config, attn_implementation=attn_implementation).train()


def gradients(module, inputs) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    module.zero_grad()
    output = module(**inputs)
    output.loss.backward()
    return output, {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("model_class", [SlipForConditionalGeneration, SlipModel])
def test_padding_free_step_equals_the_padded_step(processor, model_class, attn_implementation):
    slip = model(model_class, attn_implementation)
    padded = mixed_batch(processor)
    packed = padding_free(padded, captions=True)
    if model_class is SlipModel:  # the dual encoder takes no caption labels
        padded.pop("labels"), packed.pop("labels")
    padded_output, padded_grads = gradients(slip, padded)
    packed_output, packed_grads = gradients(slip, packed)
    assert (
        packed["input_ids"].shape[0] == 1
        and len(packed["sensor_token_index"]) < padded["sensor_mask"][..., 0].numel()
    )
    for name in ("loss", "contrastive_loss", "caption_loss", "sensor_embeds", "text_embeds"):
        if name in padded_output and padded_output[name] is not None:
            torch.testing.assert_close(
                packed_output[name], padded_output[name], rtol=1e-5, atol=1e-6, msg=name
            )
    assert packed_grads.keys() == padded_grads.keys()
    for name, grad in padded_grads.items():
        # Sums over different token orders: float reassociation only (gradients here are of order 1).
        torch.testing.assert_close(packed_grads[name], grad, rtol=1e-4, atol=2e-5, msg=name)


def test_packing_keeps_every_caption_token_and_no_cross_caption_target(processor):
    batch = mixed_batch(processor)
    packed = pack_captions(batch["input_ids"], batch["attention_mask"], batch["labels"])
    lengths = batch["attention_mask"].sum(1)
    assert packed["input_ids"].shape == (1, int(lengths.sum()))
    assert packed["cu_seq_lens_q"].tolist() == [0, *lengths.cumsum(0).tolist()]
    starts = packed["cu_seq_lens_q"][:-1].long()
    assert (packed["labels"][0, starts] == -100).all() and (packed["position_ids"][0, starts] == 0).all()
    assert packed["max_length_q"] == int(lengths.max())
    index = sensor_token_index(batch["sensor_mask"])
    assert torch.equal(index, torch.nonzero(batch["sensor_mask"].any(-1).flatten()).flatten())


HOST_READS = {"aten._local_scalar_dense.default", "aten.nonzero.default", "aten.masked_select.default"}


class HostReadCounter(TorchDispatchMode):
    """Counts operations that need a device value on the host: scalar reads and data-dependent shapes."""

    def __init__(self):
        super().__init__()
        self.reads: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        boolean_index = name.startswith("aten.index") and any(
            isinstance(item, torch.Tensor) and item.dtype == torch.bool
            for arg in args
            if isinstance(arg, (list, tuple))
            for item in arg
        )
        if name in HOST_READS or boolean_index:
            self.reads.append(name)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("model_class", [SlipForConditionalGeneration, SlipModel])
def test_a_training_step_reads_nothing_back_from_the_device(processor, model_class):
    slip = model(model_class, "sdpa")
    inputs = padding_free(mixed_batch(processor), captions=True)
    if model_class is SlipModel:
        inputs.pop("labels")
    with HostReadCounter() as counter:
        slip(**inputs).loss.backward()
    assert counter.reads == []
