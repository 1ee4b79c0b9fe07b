"""Command-line values of `examples/pretrain.py` that are parsed beyond what HfArgumentParser does."""

import pytest

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


@pytest.mark.parametrize(
    ("text", "message"),
    [("contrastive_loss_weight", "field=value"), ("no_such_field=1", "unknown SlipConfig fields")],
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


def test_source_weights_shape_the_corpus(tmp_path):
    args = DataArguments(
        corpus_size=40,
        validation_size=4,
        dataset_cache_dir=str(tmp_path),
        level_mix="semantic",
        source_weights="synthetic=1,hapt_train=1",
    )
    splits = load_corpus_splits(args, seed=0)
    sources = set(splits["train"]["source"]) | set(splits["test"]["source"])
    assert sources == {"synthetic", "hapt_train"}


def test_unknown_source_is_named(tmp_path):
    args = DataArguments(corpus_size=8, dataset_cache_dir=str(tmp_path), source_weights="imagenet=1")
    with pytest.raises(ValueError, match="imagenet"):
        load_corpus_splits(args, seed=0)
