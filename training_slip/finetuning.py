"""Question-answering / captioning finetuning of `SlipForConditionalGeneration` (caption loss only), full or
with PEFT LoRA, then generation on the test split scored by `evaluation_slip.answer_parsing`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import datasets
from transformers import AutoProcessor, set_seed
from transformers.utils import logging

from evaluation_slip.answer_parsing import score_answers
from evaluation_slip.generation import generate_texts
from modeling_slip import SlipForConditionalGeneration

from .collators import SlipQACollator, format_question
from .data import add_token_lengths, validate_rows
from .trainer import SlipTrainer, SlipTrainingArguments

logger = logging.get_logger(__name__)

DEFAULT_LORA_TARGETS = r".*text_model\.(layers\.\d+\.self_attn|cross_attention_layers\.\d+\.cross_attn)\.(q_proj|k_proj|v_proj|o_proj|out_proj)"


@dataclass
class FinetuningArguments:
    """What to finetune on and how."""

    model_name_or_path: str = field(metadata={"help": "A pretrained SLIP checkpoint (model + processor)."})
    dataset_name: str = field(
        default="slip_synthetic_qa",
        metadata={
            "help": "A QA builder of hub_datasets.BUILDERS (slip_synthetic_qa, slip_har_qa, tsqa, ...)."
        },
    )
    dataset_data_dir: str | None = field(
        default=None, metadata={"help": "Raw files for downloadable QA sets."}
    )
    dataset_options: str = field(
        default="{}", metadata={"help": "Builder config fields as JSON, e.g. '{\"train_size\": 4000}'."}
    )
    dataset_cache_dir: str | None = field(default=None, metadata={"help": "Cache of the prepared dataset."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use only this many training rows."}
    )
    max_test_samples: int | None = field(default=200, metadata={"help": "Score this many test rows."})
    use_lora: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: str = field(
        default=DEFAULT_LORA_TARGETS,
        metadata={
            "help": "Regex of the modules LoRA adapts (default: text self- and cross-attention projections)."
        },
    )
    max_text_length: int = field(default=256, metadata={"help": "Longest prompt + answer in tokens."})
    max_new_tokens: int = field(default=32, metadata={"help": "Tokens generated per test answer."})
    drop_invalid_rows: bool = field(
        default=False,
        metadata={
            "help": "Drop train and test rows that fail validation (inf, all-NaN, ragged series, bad freq), "
            "reporting how many, instead of stopping before training with the first bad row named."
        },
    )


def load_qa_splits(args: FinetuningArguments) -> datasets.DatasetDict:
    """The train and test splits of the QA dataset (cut to `max_*_samples`), each row validated up front, so a
    bad series stops the run before training rather than in the batch or the generation that holds it."""
    from hub_datasets import build

    kwargs = json.loads(args.dataset_options)
    if args.dataset_data_dir:
        kwargs["data_dir"] = args.dataset_data_dir
    splits = build(args.dataset_name, cache_dir=args.dataset_cache_dir, **kwargs)
    missing = {"train", "test"} - set(splits)
    if missing:
        raise ValueError(
            f"{args.dataset_name!r} lacks the splits {sorted(missing)}; it has {sorted(splits)}."
        )
    if args.max_train_samples is not None:
        splits["train"] = splits["train"].select(range(min(args.max_train_samples, len(splits["train"]))))
    if args.max_test_samples is not None:
        splits["test"] = splits["test"].select(range(min(args.max_test_samples, len(splits["test"]))))
    for split in ("train", "test"):
        splits[split] = validate_rows(
            splits[split], f"{args.dataset_name} {split} split", args.drop_invalid_rows
        )
    return splits


def wrap_with_lora(model: SlipForConditionalGeneration, args: FinetuningArguments):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=args.lora_target_modules,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, config)
    peft_model.print_trainable_parameters()
    return peft_model


def answer_questions(
    model, processor, rows: datasets.Dataset, max_new_tokens: int, batch_size: int
) -> list[str]:
    prompts = [format_question(row) for row in rows]
    return generate_texts(
        model,
        processor,
        rows,
        prompts,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        desc="Answering",
    )


def run_finetuning(args: FinetuningArguments, training_args: SlipTrainingArguments) -> dict[str, float]:
    """Finetune on the train split, save the (merged) model + processor, score generated test answers.

    Resumes from the newest complete checkpoint in `output_dir` when `--resume_from_checkpoint` is True (a torn
    one is skipped with a warning), or from the checkpoint folder given.
    """
    set_seed(training_args.seed)
    processor = AutoProcessor.from_pretrained(args.model_name_or_path)
    model = SlipForConditionalGeneration.from_pretrained(args.model_name_or_path)
    # Supervised finetuning trains the caption loss only: prompts are not captions to align with the series.
    model.config.contrastive_loss_weight = 0.0
    splits = load_qa_splits(args)
    trained = wrap_with_lora(model, args) if args.use_lora else model
    trainer = SlipTrainer(
        model=trained,
        args=training_args,
        train_dataset=add_token_lengths(splits["train"], processor.feature_extractor),
        data_collator=SlipQACollator(processor, args.max_text_length),
        processing_class=processor,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    final = trained.merge_and_unload() if args.use_lora else trained
    final.eval()
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        final.save_pretrained(training_args.output_dir)
        processor.save_pretrained(training_args.output_dir)
    test = splits["test"]
    predictions = answer_questions(
        final, processor, test, args.max_new_tokens, training_args.per_device_eval_batch_size
    )
    scores = score_answers(predictions, test["answer"], choices=test["choices"])
    scores["dataset"] = args.dataset_name
    if trainer.is_world_process_zero():
        examples = [
            {"question": q, "answer": a, "prediction": p}
            for q, a, p in zip(test["question"][:20], test["answer"][:20], predictions[:20])
        ]
        with open(os.path.join(training_args.output_dir, "qa_results.json"), "w") as handle:
            json.dump({"scores": scores, "examples": examples}, handle, indent=2)
    logger.info(f"QA accuracy on {args.dataset_name} test: {scores['accuracy']:.3f}")
    return scores
