"""Copying from the series metadata (`SlipConfig.copy_metadata`): the joint softmax is a distribution that adds each
metadata token's share to its id; the follow bonus continues a field; the loss, padding, packing and generation
paths agree (with `test_series_metadata.py`, whose model fixture runs with copying too); older checkpoints load
with copying switched on; mismatches raise (the pretraining switch: `test_series_metadata.py`)."""

import warnings

import numpy as np
import pytest
import torch

from modeling_slip import SlipConfig, SlipForConditionalGeneration
from modeling_slip.configuration_slip import tiny_text_config
from modeling_slip.metadata_copy import FOLLOW_WEIGHT_INIT, MetadataCopyScores, logits_with_copies
from processing_slip import (
    DefaultFrequencyWarning,
    SlipFeatureExtractor,
    SlipProcessor,
    train_caption_tokenizer,
)
from training_fixtures import caption_rows, tiny_model
from training_slip.collators import SlipPretrainingCollator

ROWS = caption_rows(24)
METADATA_WORDS = "1 channel, 2 channels, 90 steps, 400 steps, 50 Hz, one value every 10 min"


@pytest.fixture(scope="module")
def processor() -> SlipProcessor:
    captions = [row["caption"] for row in ROWS] + [METADATA_WORDS] * 8
    tokenizer = train_caption_tokenizer(captions, vocab_size=400, min_frequency=1)
    return SlipProcessor(SlipFeatureExtractor(), tokenizer, series_metadata=True)


@pytest.fixture(scope="module")
def model(processor) -> SlipForConditionalGeneration:
    return tiny_model(
        text_config=tiny_text_config(vocab_size=len(processor.tokenizer)),
        series_metadata=True,
        copy_metadata=True,
    ).eval()


def _batch(processor: SlipProcessor, **text) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(0)
    series = [
        rng.standard_normal((1, 90)).astype(np.float32),
        rng.standard_normal((2, 400)).astype(np.float32),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DefaultFrequencyWarning)
        return dict(processor(series=series, freq=["50Hz", "10min"], return_tensors="pt", **text))


def test_the_joint_softmax_adds_each_copied_tokens_share_to_its_id():
    generator = torch.Generator().manual_seed(0)
    vocab_logits = torch.randn(2, 3, 7, generator=generator)
    scores = torch.randn(2, 3, 4, generator=generator)
    ids = torch.tensor([[2, 2, 5, 0], [6, 1, 1, 3]])[:, None].expand(-1, 3, -1)
    valid = torch.tensor([[True, True, True, False], [True, True, False, True]])[:, None].expand(-1, 3, -1)
    got = logits_with_copies(vocab_logits, MetadataCopyScores(scores, ids, valid)).softmax(dim=-1)
    joint = torch.cat([vocab_logits, scores.masked_fill(~valid, -torch.inf)], dim=-1).softmax(dim=-1)
    expected = joint[..., :7].scatter_add(-1, ids, joint[..., 7:])
    torch.testing.assert_close(got, expected)
    nothing_to_copy = logits_with_copies(
        vocab_logits, MetadataCopyScores(scores, ids, torch.zeros_like(valid))
    )
    torch.testing.assert_close(nothing_to_copy, vocab_logits)


def test_the_follow_bonus_continues_a_field(processor, model):
    batch = _batch(processor)
    rate = processor.tokenizer("one value every 10 min", add_special_tokens=False).input_ids
    inputs = {key: value for key, value in batch.items() if key not in ("input_ids", "attention_mask")}
    strong = SlipForConditionalGeneration(model.config).eval()
    strong.load_state_dict(model.state_dict())
    with torch.no_grad():
        strong.metadata_copy.follow_weight.fill_(100.0)
        logits = strong(**inputs, input_ids=torch.tensor([rate[:3]] * 2)).logits
    # Series 1 states "one value every 10 min": after each of its words, the next one. Series 0 (50 Hz) does not.
    assert logits[1].argmax(dim=-1).tolist() == rate[1:4]
    assert logits[0].argmax(dim=-1).tolist() != rate[1:4]


def test_the_training_loss_equals_the_loss_of_the_returned_logits(processor, model):
    batch = _batch(
        processor, text=["It has one channel, sampled at 50 Hz.", "An artificial series of 400 steps."]
    )
    with torch.no_grad():
        from_logits = model(**batch, skip_logits=False).caption_loss
        selected = model(**batch, skip_logits=True).caption_loss
        logits = model(**batch).logits
    torch.testing.assert_close(selected, from_logits)
    assert torch.isfinite(logits).all()


def test_packed_training_loss_equals_the_padded_one(processor, model):
    rows = [dict(row, freq=freq) for row, freq in zip(ROWS[:4], ["50Hz", "10min", "", "25Hz"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DefaultFrequencyWarning)
        padded = SlipPretrainingCollator(processor, pack_sensor=False)(rows)
        packed = SlipPretrainingCollator(processor, pack_captions=True)(rows)
    with torch.no_grad():
        expected = model(**padded, skip_logits=True).caption_loss
        got = model(**packed, skip_logits=True).caption_loss
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_generation_with_and_without_a_cache_agree(processor, model):
    inputs = {
        key: value for key, value in _batch(processor).items() if key not in ("input_ids", "attention_mask")
    }
    with torch.no_grad():
        cached = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        uncached = model.generate(**inputs, max_new_tokens=6, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)


def test_a_checkpoint_without_copying_continues_with_it(processor, tmp_path):
    reader = tiny_model(
        text_config=tiny_text_config(vocab_size=len(processor.tokenizer)), series_metadata=True
    )
    reader.save_pretrained(tmp_path)
    copier, info = SlipForConditionalGeneration.from_pretrained(
        tmp_path, copy_metadata=True, output_loading_info=True
    )
    assert sorted(info["missing_keys"]) == [
        "metadata_copy.follow_weight",
        "metadata_copy.slot_scores.bias",
        "metadata_copy.slot_scores.weight",
    ]
    assert copier.metadata_copy.follow_weight.item() == FOLLOW_WEIGHT_INIT
    assert 0 < copier.metadata_copy.slot_scores.weight.std() < 1
    copier.save_pretrained(tmp_path / "copier")
    reloaded = SlipForConditionalGeneration.from_pretrained(tmp_path / "copier").eval()
    batch = _batch(processor, text=["a b", "a b"])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, copier.eval()(**batch).logits)


def test_copying_without_metadata_or_from_embeddings_raises(processor, model, tmp_path):
    with pytest.raises(ValueError, match="copy_metadata=True copies from the series metadata"):
        SlipConfig.from_preset("tiny", copy_metadata=True)
    plain = tiny_model(text_config=tiny_text_config(vocab_size=len(processor.tokenizer)))
    plain.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="copy_metadata=True copies from the series metadata"):
        SlipForConditionalGeneration.from_pretrained(tmp_path, copy_metadata=True)
    batch = _batch(processor, text=["a b", "a b"])
    embeds = model.get_input_embeddings()(batch.pop("input_ids"))
    with pytest.raises(ValueError, match="pass input_ids"):
        model(**batch, inputs_embeds=embeds, return_loss=False)
