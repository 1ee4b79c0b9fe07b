"""Command-line values of `examples/pretrain.py` that are parsed beyond what HfArgumentParser does."""

import pytest
from transformers.testing_utils import CaptureLogger

from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer
from training_slip import pretraining
from training_slip.pretraining import (
    DataArguments,
    ModelArguments,
    build_model,
    load_corpus_splits,
    parse_config_overrides,
    parse_source_weights,
)


def test_config_overrides_keep_json_types():
    assert parse_config_overrides("contrastive_loss_weight=2, zero_init_cross_attention=true") == {
        "contrastive_loss_weight": 2,
        "zero_init_cross_attention": True,
    }
    assert parse_config_overrides(None) == {}
    assert parse_config_overrides("caption_uses_contrastive_query=True,text_embed_scale=None") == {
        "caption_uses_contrastive_query": True,
        "text_embed_scale": None,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("contrastive_loss_weight", "field=value"),
        ("no_such_field=1", "unknown SlipConfig fields"),
        ("copy_metadata=yes", "copy_metadata takes true or false, got 'yes'"),
    ],
)
def test_config_overrides_reject_bad_items(text, message):
    with pytest.raises(ValueError, match=message):
        parse_config_overrides(text)


def test_config_overrides_reach_the_model():
    model = build_model(ModelArguments(preset="tiny", config_overrides="caption_loss_weight=0.5"))
    assert model.config.caption_loss_weight == 0.5


def test_source_weights_parse_and_reject_non_numbers():
    assert parse_source_weights("synthetic=0.4, hapt_train=0.6") == {"synthetic": 0.4, "hapt_train": 0.6}
    for bad in ("synthetic", "synthetic=lots", "synthetic=inf"):
        with pytest.raises(ValueError, match="name=weight"):
            parse_source_weights(bad)


def _small_corpus_splits(tmp_path, **options):
    args = DataArguments(corpus_size=40, validation_size=4, dataset_cache_dir=str(tmp_path), **options)
    return load_corpus_splits(args, seed=0)


def test_source_weights_shape_the_corpus(tmp_path):
    splits = _small_corpus_splits(tmp_path, level_mix="semantic", source_weights="synthetic=1,hapt_train=1")
    sources = set(splits["train"]["source"]) | set(splits["test"]["source"])
    assert sources == {"synthetic", "hapt_train"}


def test_univariate_ratio_reaches_the_corpus(tmp_path):
    splits = _small_corpus_splits(tmp_path, source_weights="hapt_train=1", univariate_ratio=0.0)
    assert all(len(names) > 1 for names in splits["train"]["channel_names"])


def test_unknown_source_is_named(tmp_path):
    args = DataArguments(corpus_size=8, dataset_cache_dir=str(tmp_path), source_weights="imagenet=1")
    with pytest.raises(ValueError, match="imagenet"):
        load_corpus_splits(args, seed=0)


def test_long_captions_are_counted_before_training():
    captions = ["walking upstairs " * 20, "sitting", "standing still"]
    processor = SlipProcessor(SlipFeatureExtractor(), train_caption_tokenizer(captions * 10, vocab_size=300))
    longest = processor.caption_lengths(captions)[0]
    with CaptureLogger(pretraining.logger) as captured:
        pretraining._warn_long_captions(processor, captions, max_text_length=longest - 1)
    assert "1 of 3 training captions (33.3%)" in captured.out
    assert f"--max_text_length {longest} " in captured.out
    with CaptureLogger(pretraining.logger) as captured:
        pretraining._warn_long_captions(processor, captions, max_text_length=longest)
    assert captured.out == ""
