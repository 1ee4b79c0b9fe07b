"""Contrastive + captioning pretraining of `SlipForConditionalGeneration` with `Trainer`.

`run_pretraining` is what `examples/pretrain.py` and the end-to-end demo call: it loads or builds the corpus,
builds (or loads) the processor and the model, trains with `SlipTrainer`, and saves a directory that
`AutoModel.from_pretrained` and `AutoProcessor.from_pretrained` load.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import datasets
from transformers import AutoProcessor, AutoTokenizer, set_seed
from transformers.utils import logging

from hub_datasets.export import load_exported
from modeling_slip import SlipConfig, SlipForConditionalGeneration
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer

from .collators import SlipPretrainingCollator
from .data import add_token_lengths, validate_rows
from .trainer import SlipTrainer, SlipTrainingArguments

logger = logging.get_logger(__name__)


@dataclass
class ModelArguments:
    """Which model to train: a preset from scratch, a SLIP checkpoint, or a preset on a pretrained Gemma-3 LM."""

    preset: str = field(default="tiny", metadata={"help": 'SlipConfig preset: "tiny", "small" or "base".'})
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Continue from a saved SLIP checkpoint (model + processor)."}
    )
    text_model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Local Gemma3ForCausalLM checkpoint for the text tower (see modeling_slip.convert_gemma_gguf); "
            "its tokenizer is used. Without it the preset's text tower is randomly initialised."
        },
    )
    tokenizer_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Tokenizer to use; default: train a BPE tokenizer on the corpus captions."},
    )
    attn_implementation: str = field(
        default="sdpa", metadata={"help": '"eager", "sdpa" or "flash_attention_2".'}
    )
    target_patches: int = field(
        default=64, metadata={"help": "Patches per channel the processor's patch-size policy aims for."}
    )
    series_metadata: bool = field(
        default=False,
        metadata={
            "help": "Give the decoder each series' channel count, length and sampling rate as text "
            "(SlipConfig.series_metadata), so captions can state them. A saved model can be continued with it "
            "switched on: its new weights start from their initialisation."
        },
    )
    copy_metadata: bool = field(
        default=False,
        metadata={
            "help": "Let the decoder copy tokens of the series metadata into its captions "
            "(SlipConfig.copy_metadata; implies --series_metadata)."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Override SlipConfig fields of a preset, e.g. "
            '"contrastive_loss_weight=2.0,logit_scale_init_value=2.3" (as in run_clm.py).'
        },
    )


@dataclass
class DataArguments:
    """Where the (series, caption) pairs come from."""

    dataset_path: str | None = field(
        default=None,
        metadata={
            "help": "A corpus exported with `python -m hub_datasets build ... --export DIR` (its shard checksums "
            "are verified) or any dataset with the corpus schema for `datasets.load_dataset`. Default: build "
            "the SLIP corpus here."
        },
    )
    corpus_size: int = field(default=20_000, metadata={"help": "Pairs in the built corpus."})
    corpus_seed: int = field(default=0, metadata={"help": "Seed of the built corpus."})
    level_mix: str = field(
        default="statistical,structural,semantic",
        metadata={"help": "Caption levels trained on, comma separated (statistical, structural, semantic)."},
    )
    source_weights: str | None = field(
        default=None,
        metadata={
            "help": 'Share of corpus rows per source, e.g. "synthetic=0.4,hapt_train=0.3,forecasting=0.3" '
            "(sources left out get none). Default: the corpus builder's mix."
        },
    )
    univariate_ratio: float | None = field(
        default=None,
        metadata={
            "help": "Share of univariate rows among synthetic rows and windows of multichannel sources. "
            "Default: the corpus builder's (0.5)."
        },
    )
    caption_column: str = field(
        default="caption", metadata={"help": "Column holding the caption to train on."}
    )
    validation_size: int = field(default=256, metadata={"help": "Pairs held out for evaluation loss."})
    max_text_length: int = field(
        default=160, metadata={"help": "Longest caption in tokens (longer: cut, warned)."}
    )
    pack_captions: bool = field(
        default=False,
        metadata={
            "help": "Run each batch's captions as one packed sequence (no padding; pays off with flash-attention "
            "or a wide text tower, see SlipPretrainingCollator). Sensor tokens are always packed."
        },
    )
    dataset_cache_dir: str | None = field(default=None, metadata={"help": "Cache of the built corpus."})
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes for corpus building."}
    )
    drop_invalid_rows: bool = field(
        default=False,
        metadata={
            "help": "Drop corpus rows that fail validation (inf, all-NaN, ragged series, bad freq), reporting "
            "how many, instead of stopping before training with the first bad row named."
        },
    )


def _assignments(text: str | None, option: str, form: str) -> list[tuple[str, str]]:
    """Parse "a=1, b=2" into [("a", "1"), ("b", "2")]; an item without a name or "=" is an error naming
    `option`."""
    pairs = []
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f'{option} items must read "{form}", got {item!r}.')
        pairs.append((name.strip(), value.strip()))
    return pairs


def parse_source_weights(text: str) -> dict[str, float]:
    """Parse "name=weight,name=weight" into {name: weight}; the corpus builder checks the names and values."""
    weights = {}
    for name, value in _assignments(text, "--source_weights", "name=weight"):
        try:
            weights[name] = float(value)
        except ValueError:
            weights[name] = math.nan
        if not math.isfinite(weights[name]):
            raise ValueError(
                f'--source_weights items must read "name=weight" with a number, got {name}={value!r}.'
            )
    return weights


_PYTHON_LITERALS = {"True": True, "False": False, "None": None}
"""Python spellings of JSON's true, false and null, which a command line is as likely to use."""


def parse_config_overrides(text: str | None) -> dict[str, Any]:
    """Parse "field=value,..." into typed keyword arguments for `SlipConfig.from_preset` (values parsed as
    JSON, or as Python's True / False / None, when they can be, so numbers and booleans keep their types). Unlike
    `PretrainedConfig.update_from_string`, this checks names against the constructor and passes values through
    it, so fields that default to None can be set and fields derived in `__init__` follow. A field that
    defaults to a boolean takes only a boolean: any non-empty string would silently read as True."""
    overrides: dict[str, Any] = {}
    for name, value in _assignments(text, "--config_overrides", "field=value"):
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = _PYTHON_LITERALS.get(value, value)
    parameters = inspect.signature(SlipConfig.__init__).parameters
    unknown = sorted(set(overrides) - set(parameters))
    if unknown:
        raise ValueError(f"--config_overrides names unknown SlipConfig fields {unknown}.")
    for name, value in overrides.items():
        if isinstance(parameters[name].default, bool) and not isinstance(value, bool):
            raise ValueError(f"--config_overrides: {name} takes true or false, got {value!r}.")
    return overrides


def load_corpus_splits(data_args: DataArguments, seed: int) -> datasets.DatasetDict:
    """Train/validation splits of the corpus named by `data_args`, every row validated before the split, so an
    error names the row of the corpus itself."""
    if data_args.dataset_path and os.path.isdir(data_args.dataset_path):
        dataset = load_exported(data_args.dataset_path, split="train", cache_dir=data_args.dataset_cache_dir)
    elif data_args.dataset_path:
        dataset = datasets.load_dataset(data_args.dataset_path, split="train")
    else:
        from hub_datasets import load_corpus

        options = {}
        if data_args.source_weights:
            options["source_weights"] = parse_source_weights(data_args.source_weights)
        if data_args.univariate_ratio is not None:
            options["univariate_ratio"] = data_args.univariate_ratio
        dataset = load_corpus(
            cache_dir=data_args.dataset_cache_dir,
            num_proc=data_args.preprocessing_num_workers,
            size=data_args.corpus_size,
            seed=data_args.corpus_seed,
            level_mix=tuple(level.strip() for level in data_args.level_mix.split(",")),
            **options,
        )
    if data_args.caption_column not in dataset.column_names:
        raise ValueError(
            f"The corpus has no column {data_args.caption_column!r}; it has {dataset.column_names}. "
            "Pass --caption_column."
        )
    name = data_args.dataset_path or "the built corpus"
    dataset = validate_rows(dataset, name, data_args.drop_invalid_rows)
    return dataset.train_test_split(test_size=data_args.validation_size, seed=seed)


def build_processor(model_args: ModelArguments, captions: list[str], config: SlipConfig) -> SlipProcessor:
    """The checkpoint's processor, or a feature extractor plus the LM's, a given, or a freshly trained tokenizer."""
    if model_args.model_name_or_path:
        processor = AutoProcessor.from_pretrained(model_args.model_name_or_path)
        processor.series_metadata = config.series_metadata  # `--series_metadata` may switch it on
        return processor
    tokenizer_path = model_args.tokenizer_name_or_path or model_args.text_model_name_or_path
    if tokenizer_path:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    else:
        tokenizer = train_caption_tokenizer(captions, vocab_size=config.text_config.vocab_size)
    feature_extractor = SlipFeatureExtractor(
        target_patches=model_args.target_patches, max_patch_size=config.sensor_config.max_patch_size
    )
    return SlipProcessor(feature_extractor, tokenizer, series_metadata=config.series_metadata)


def _metadata_switches(model_args: ModelArguments) -> dict[str, bool]:
    """The config's metadata fields the arguments ask for: copying reads the metadata, so it switches both on."""
    return {
        "series_metadata": model_args.series_metadata or model_args.copy_metadata,
        "copy_metadata": model_args.copy_metadata,
    }


def build_model(model_args: ModelArguments) -> SlipForConditionalGeneration:
    attn = model_args.attn_implementation
    if model_args.model_name_or_path:
        switched_on = {name: True for name, on in _metadata_switches(model_args).items() if on}
        return SlipForConditionalGeneration.from_pretrained(
            model_args.model_name_or_path,
            attn_implementation=attn,
            **{**switched_on, **parse_config_overrides(model_args.config_overrides)},
        )
    overrides = _metadata_switches(model_args)
    overrides.update(parse_config_overrides(model_args.config_overrides))
    preset = SlipConfig.from_preset(model_args.preset, **overrides)
    if model_args.text_model_name_or_path:
        model = SlipForConditionalGeneration.from_text_pretrained(
            model_args.text_model_name_or_path,
            split_layer=preset.split_layer,
            sensor_config=preset.sensor_config,
            series_metadata=preset.series_metadata,
            copy_metadata=preset.copy_metadata,
        )
        model.set_attn_implementation(attn)
        return model
    return SlipForConditionalGeneration._from_config(preset, attn_implementation=attn)


def _warn_long_captions(processor: SlipProcessor, captions: list[str], max_text_length: int) -> None:
    """Say up front how many captions the collator will cut: a cut caption loses its end, often its label."""
    lengths = processor.caption_lengths(captions)
    long = sum(length > max_text_length for length in lengths)
    if long:
        logger.warning(
            f"{long} of {len(lengths)} training captions ({100 * long / len(lengths):.1f}%) are longer than "
            f"--max_text_length {max_text_length} tokens (longest {max(lengths)}) and will be cut from the end, "
            f"losing what they say last; pass --max_text_length {max(lengths)} to keep them whole."
        )


def run_pretraining(
    model_args: ModelArguments, data_args: DataArguments, training_args: SlipTrainingArguments
) -> tuple[SlipTrainer, SlipProcessor]:
    """Train, save model + processor to `training_args.output_dir`, and return the trainer and processor.

    Resumes from the newest complete checkpoint in `output_dir` when `--resume_from_checkpoint` is True (a torn
    one, left by a run killed while saving, is skipped with a warning), or from the checkpoint folder given.
    """
    set_seed(training_args.seed)
    splits = load_corpus_splits(data_args, training_args.seed)
    model = build_model(model_args)
    processor = build_processor(model_args, splits["train"][data_args.caption_column], model.config)
    if len(processor.tokenizer) > model.config.text_config.vocab_size:
        raise ValueError(
            f"The tokenizer has {len(processor.tokenizer)} tokens but the text tower only "
            f"{model.config.text_config.vocab_size}; use the text model's own tokenizer."
        )
    _warn_long_captions(processor, splits["train"][data_args.caption_column], data_args.max_text_length)
    train, validation = splits["train"], splits["test"]
    if training_args.train_sampling_strategy == "group_by_length":
        train = add_token_lengths(train, processor.feature_extractor)
        validation = add_token_lengths(validation, processor.feature_extractor)
    trainer = SlipTrainer(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=validation,
        data_collator=SlipPretrainingCollator(
            processor,
            data_args.caption_column,
            data_args.max_text_length,
            pack_captions=data_args.pack_captions,
        ),
        processing_class=processor,
    )
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()
    processor.save_pretrained(training_args.output_dir)
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    if training_args.do_eval:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)
    logger.info(f"Saved model and processor to {os.path.abspath(training_args.output_dir)}")
    return trainer, processor
