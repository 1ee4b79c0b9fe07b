"""Series metadata for the decoder (`SlipConfig.series_metadata`): the processor writes each series' channel
count, length and stated rate in the captions' own words; the decoder reads it (and with `copy_metadata` can copy
it), the embeddings do not; padding, packing and generation keep it per sample; old models and processors are
unchanged; mismatches raise."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoProcessor, pipeline

import slip  # noqa: F401  (registers the Auto classes and pipelines)
from hub_datasets.captions import SeriesDescription, semantic_caption
from modeling_slip import SlipConfig, SlipModel
from modeling_slip.configuration_slip import tiny_text_config
from modeling_slip.sensor_inputs import METADATA_INPUT_KEYS
from modeling_slip.series_metadata import MAX_METADATA_FIELD_TOKENS, METADATA_FIELDS
from processing_slip import (
    DefaultFrequencyWarning,
    SlipFeatureExtractor,
    SlipProcessor,
    train_caption_tokenizer,
)
from processing_slip.series_metadata import metadata_fields
from slip.pipelines import FEATURE_EXTRACTION_TASK, TEXT_TASK
from training_fixtures import (
    caption_rows,
    export_corpus,
    tiny_model,
    tiny_pretraining_arguments,
)
from training_slip.collators import SlipPretrainingCollator
from training_slip.pretraining import run_pretraining

ROWS = caption_rows(24)
SHAPES = ((1, 90), (3, 400), (2, 1500))
FREQS = ["50Hz", None, "10min"]
# Words the metadata uses, so that the tokenizer trained for these tests keeps every field within its width.
METADATA_WORDS = "1 channel, 2 channels, 3 channels, 90 steps, 50 Hz, 25 Hz, one value every 10 min, 5 min"


def _metadata_processor() -> SlipProcessor:
    captions = [row["caption"] for row in ROWS] + [METADATA_WORDS] * 8
    tokenizer = train_caption_tokenizer(captions, vocab_size=400, min_frequency=1)
    return SlipProcessor(SlipFeatureExtractor(), tokenizer, series_metadata=True)


@pytest.fixture(scope="module")
def processor() -> SlipProcessor:
    return _metadata_processor()


@pytest.fixture(scope="module", params=[False, True], ids=["reads", "copies"])
def model(processor, request):
    """A model that reads the metadata, and one that can also copy from it (`SlipConfig.copy_metadata`)."""
    return tiny_model(
        text_config=tiny_text_config(vocab_size=len(processor.tokenizer)),
        series_metadata=True,
        copy_metadata=request.param,
    ).eval()


def _series() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]


def _batch(processor: SlipProcessor, series=None, freqs=FREQS, **text) -> dict[str, torch.Tensor]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DefaultFrequencyWarning)
        return dict(
            processor(series=_series() if series is None else series, freq=freqs, return_tensors="pt", **text)
        )


def _fields(processor: SlipProcessor, metadata_ids: torch.Tensor) -> list[list[str]]:
    return [processor.batch_decode(fields) for fields in metadata_ids]


def test_metadata_fields_state_what_is_known():
    assert metadata_fields(6, 128, 0.02) == ("6 channels", "128 steps", "50 Hz")
    assert metadata_fields(1, 72, 600.0) == ("1 channel", "72 steps", "one value every 10 min")
    assert metadata_fields(4, 109, None) == ("4 channels", "109 steps", "")
    assert metadata_fields(4, 109, float("nan")) == ("4 channels", "109 steps", "")


@pytest.mark.parametrize(("seconds", "words"), [(0.02, "50 Hz"), (1 / 64, "64 Hz"), (600.0, "every 10 min")])
def test_metadata_states_the_rate_in_the_captions_words(seconds, words):
    info = SeriesDescription(channel_names=["x"], units=[""], seconds_per_step=seconds)
    caption = semantic_caption(info, 100, seed=0)
    assert words in caption and words in metadata_fields(1, 100, seconds)[2]


def test_processor_writes_each_series_metadata(processor):
    batch = _batch(processor)
    assert _fields(processor, batch["metadata_ids"]) == [
        ["1 channel", "90 steps", "50 Hz"],
        ["3 channels", "400 steps", ""],  # no rate stated: the assumed 1 s is not written
        ["2 channels", "1500 steps", "one value every 10 min"],
    ]
    assert batch["metadata_ids"].shape[:2] == (3, len(METADATA_FIELDS))
    assert batch["metadata_attention_mask"].shape == batch["metadata_ids"].shape
    assert not batch["metadata_attention_mask"][1, 2].any()


def test_a_time_index_or_default_freq_states_the_rate(processor):
    frame = pd.DataFrame({"a": np.arange(30.0)}, index=pd.date_range("2024-01-01", periods=30, freq="5min"))
    from_index = processor(series=frame, return_tensors="pt")
    assert _fields(processor, from_index["metadata_ids"]) == [
        ["1 channel", "30 steps", "one value every 5 min"]
    ]
    defaulted = SlipProcessor(
        SlipFeatureExtractor(default_freq="25Hz"), processor.tokenizer, series_metadata=True
    )
    encoded = defaulted(series=np.zeros((2, 90)), return_tensors="pt")
    assert _fields(processor, encoded["metadata_ids"]) == [["2 channels", "90 steps", "25 Hz"]]


def test_processors_without_metadata_are_unchanged(processor):
    plain = SlipProcessor(processor.feature_extractor, processor.tokenizer)
    with_metadata, without = _batch(processor, text=["a b"] * 3), _batch(plain, text=["a b"] * 3)
    assert set(with_metadata) - set(without) == set(METADATA_INPUT_KEYS)
    for key, value in without.items():
        torch.testing.assert_close(with_metadata[key], value)


def test_the_setting_is_saved_with_the_processor(processor, tmp_path):
    processor.save_pretrained(tmp_path)
    assert AutoProcessor.from_pretrained(tmp_path).series_metadata is True
    SlipProcessor(processor.feature_extractor, processor.tokenizer).save_pretrained(tmp_path / "plain")
    assert AutoProcessor.from_pretrained(tmp_path / "plain").series_metadata is False


def test_the_decoder_reads_metadata_and_the_embeddings_do_not(processor, model):
    batch = _batch(processor, text=["a b c"] * 3)
    other = dict(batch)
    for key in METADATA_INPUT_KEYS:
        other[key] = batch[key].roll(1, dims=0)
    with torch.no_grad():
        first, second = model(**batch), model(**other)
    torch.testing.assert_close(first.sensor_embeds, second.sensor_embeds)
    torch.testing.assert_close(first.text_embeds, second.text_embeds)
    assert not torch.allclose(first.logits, second.logits)


def test_metadata_padding_changes_nothing(processor, model):
    texts = ["a b c", "a", "b c"]
    batch = _batch(processor, text=texts)
    with torch.no_grad():
        together = model(**batch).logits
        for index, (series, freq) in enumerate(zip(_series(), FREQS)):
            one = _batch(processor, [series], [freq], text=[texts[index]])
            assert one["metadata_ids"].shape[-1] <= batch["metadata_ids"].shape[-1]
            alone = model(**one).logits[0]
            torch.testing.assert_close(alone, together[index, : len(alone)], atol=1e-5, rtol=1e-5)


def test_packed_training_step_equals_the_padded_one(processor, model):
    rows = [dict(row, freq=freq or "") for row, freq in zip(ROWS[:6], FREQS * 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DefaultFrequencyWarning)
        padded = SlipPretrainingCollator(processor, pack_sensor=False)(rows)
        packed = SlipPretrainingCollator(processor, pack_captions=True)(rows)
    assert set(METADATA_INPUT_KEYS) <= set(packed)
    with torch.no_grad():
        expected, got = model(**padded), model(**packed)
    torch.testing.assert_close(got.contrastive_loss, expected.contrastive_loss, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.caption_loss, expected.caption_loss, atol=1e-5, rtol=1e-5)


def test_generation_reads_the_metadata_per_sample(processor, model):
    batch = _batch(processor)
    with torch.no_grad():
        greedy = model.generate(**batch, max_new_tokens=4, do_sample=False)
        beams = model.generate(**batch, max_new_tokens=4, num_beams=2, do_sample=False)
        for index, (series, freq) in enumerate(zip(_series(), FREQS)):
            alone = model.generate(**_batch(processor, [series], [freq]), max_new_tokens=4, do_sample=False)
            assert torch.equal(alone[0], greedy[index])
    assert beams.shape[0] == 3


def test_weights_exist_only_with_metadata_and_the_dual_encoder_loads_them(processor, model, tmp_path):
    assert any(key.startswith("metadata_embeddings.") for key in model.state_dict())
    plain = tiny_model(text_config=tiny_text_config(vocab_size=len(processor.tokenizer)))
    assert not any(key.startswith("metadata_embeddings.") for key in plain.state_dict())
    model.save_pretrained(tmp_path)
    dual, info = SlipModel.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]


def test_fields_longer_than_the_model_takes_raise(processor, model):
    character_tokenizer = train_caption_tokenizer(["a b"] * 4, vocab_size=270, min_frequency=1)
    spelled_out = SlipProcessor(SlipFeatureExtractor(), character_tokenizer, series_metadata=True)
    with pytest.raises(ValueError, match="into 22 tokens; the model reads at most 16"):
        spelled_out(series=np.zeros((1, 50)), freq="10min")
    too_wide = torch.zeros(1, len(METADATA_FIELDS), MAX_METADATA_FIELD_TOKENS + 1, dtype=torch.long)
    with pytest.raises(ValueError, match="metadata_ids must have shape"):
        model.get_metadata_context(too_wide)


def test_mismatched_inputs_raise(processor, model):
    batch = _batch(processor)
    sensor_only = {key: value for key, value in batch.items() if key not in METADATA_INPUT_KEYS}
    with pytest.raises(ValueError, match="reads series metadata"):
        model.generate(**sensor_only, max_new_tokens=2)
    plain_model = tiny_model(text_config=tiny_text_config(vocab_size=len(processor.tokenizer))).eval()
    with pytest.raises(ValueError, match="does not read series metadata"):
        plain_model.generate(**batch, max_new_tokens=2)
    context = model.get_sensor_context(
        *(batch[key] for key in ("sensor_values", "sensor_mask", "sensor_time", "patch_size"))
    )
    metadata = {key: batch[key] for key in METADATA_INPUT_KEYS}
    expected = model.generate(**batch, max_new_tokens=3, do_sample=False)
    assert torch.equal(
        model.generate(sensor_context=context, **metadata, max_new_tokens=3, do_sample=False), expected
    )
    whole_context = model(**batch, input_ids=expected).sensor_context
    with pytest.raises(ValueError, match="must be the pooled sensor tokens alone"):
        model.generate(sensor_context=whole_context, **metadata, max_new_tokens=2)


def test_pipelines_pass_metadata_to_the_decoder_only(processor, model, tmp_path):
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    captioner = pipeline(TEXT_TASK, model=str(tmp_path), device="cpu", max_new_tokens=3)
    extractor = pipeline(FEATURE_EXTRACTION_TASK, model=str(tmp_path), device="cpu")
    series = _series()
    assert len(captioner(series, freq="50Hz")) == 3
    assert len(extractor(series, freq="50Hz")) == 3
    assert len(extractor(series, freq="50Hz", pooling="mean")) == 3
    assert len(extractor(series, freq="50Hz", return_tokens=True)) == 3


@pytest.mark.parametrize("switch", ["series_metadata", "copy_metadata"])
def test_pretraining_switches_metadata_on_for_model_and_processor(tmp_path, switch):
    """`--series_metadata`, and `--copy_metadata`, which reads the metadata too and so switches both on."""
    corpus = export_corpus(ROWS, tmp_path / "corpus")
    model_args, data_args, training_args = tiny_pretraining_arguments(
        corpus, str(tmp_path / "run"), max_steps=2
    )
    trainer, processor = run_pretraining(
        dataclasses.replace(model_args, **{switch: True}), data_args, training_args
    )
    config = trainer.model.config
    assert getattr(config, switch) and config.series_metadata and processor.series_metadata
    assert getattr(SlipConfig.from_pretrained(tmp_path / "run"), switch)
    assert AutoProcessor.from_pretrained(tmp_path / "run").series_metadata


def test_a_processors_whole_output_passes_to_the_dual_encoder(processor, model, tmp_path):
    model.save_pretrained(tmp_path)
    dual = SlipModel.from_pretrained(tmp_path).eval()
    with_metadata = _batch(processor, text=["a b c"] * 3)
    plain = SlipProcessor(processor.feature_extractor, processor.tokenizer)
    sensor_only = _batch(plain)
    with torch.no_grad():
        torch.testing.assert_close(
            dual.get_sensor_features(
                **{k: v for k, v in with_metadata.items() if k not in ("input_ids", "attention_mask")}
            ),
            dual.get_sensor_features(**sensor_only),
        )
        features = dual.get_mean_token_features(**_batch(processor))
        output = dual(**with_metadata)
    torch.testing.assert_close(features, dual.get_mean_token_features(**sensor_only))
    torch.testing.assert_close(output.sensor_embeds, model(**with_metadata).sensor_embeds)
