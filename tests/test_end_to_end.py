"""The smallest whole path on real data: build a corpus, pretrain a few steps, save, reload with the Auto classes,
embed, classify zero-shot, caption, answer after QA finetuning with LoRA."""

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoProcessor

from evaluation_slip.features import extract_patch_features
from evaluation_slip.generation import generate_texts
from evaluation_slip.zero_shot import evaluate_zero_shot
from hub_datasets import load_evaluation_set, zero_shot_prompts
from modeling_slip import SlipForConditionalGeneration, SlipModel
from training_slip.finetuning import FinetuningArguments, run_finetuning
from training_slip.pretraining import DataArguments, ModelArguments, run_pretraining
from training_slip.trainer import SlipTrainingArguments


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    training_args = SlipTrainingArguments(
        output_dir=str(root / "model"),
        max_steps=4,
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        logging_steps=2,
        save_steps=4,
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    data_args = DataArguments(
        corpus_size=96,
        validation_size=16,
        dataset_cache_dir=str(root / "cache"),
        level_mix="semantic,structural",
    )
    trainer, _ = run_pretraining(ModelArguments(preset="tiny"), data_args, training_args)
    return root, trainer


def test_pretrain_save_reload_embed_zero_shot_and_caption(pretrained):
    root, trainer = pretrained
    model_dir = trainer.args.output_dir
    logged = [log for log in trainer.state.log_history if "contrastive_loss" in log]
    assert logged and all(np.isfinite([log["contrastive_loss"], log["caption_loss"]]).all() for log in logged)

    model = AutoModel.from_pretrained(model_dir)
    processor = AutoProcessor.from_pretrained(model_dir)
    assert isinstance(model, SlipModel) and not isinstance(model, SlipForConditionalGeneration)
    torch.testing.assert_close(model.logit_scale, trainer.model.logit_scale.detach())

    motions = load_evaluation_set("basic_motions", "test", cache_dir=str(root / "cache"))
    features = extract_patch_features(model, processor, motions, show_progress=False)
    assert features.shape == (len(motions), model.config.sensor_config.hidden_size)
    assert np.isfinite(features).all()

    result = evaluate_zero_shot(
        model, processor, motions, zero_shot_prompts("basic_motions"), show_progress=False
    )
    assert result.confusion_matrix.sum() == len(motions)
    assert 0.0 <= result.metrics["accuracy"] <= 1.0

    generator = AutoModelForCausalLM.from_pretrained(model_dir)
    assert isinstance(generator, SlipForConditionalGeneration)
    captions = generate_texts(generator, processor, trainer.eval_dataset.select(range(2)), max_new_tokens=8)
    assert len(captions) == 2 and all(isinstance(text, str) for text in captions)


def test_lora_question_answering_finetuning(pretrained):
    root, trainer = pretrained
    args = FinetuningArguments(
        model_name_or_path=trainer.args.output_dir,
        dataset_name="slip_synthetic_qa",
        dataset_cache_dir=str(root / "cache"),
        dataset_options='{"train_size": 16, "test_size": 4}',
        max_train_samples=16,
        max_test_samples=4,
        use_lora=True,
        max_new_tokens=6,
    )
    training_args = SlipTrainingArguments(
        output_dir=str(root / "qa"),
        max_steps=2,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=4,
        save_strategy="no",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    scores = run_finetuning(args, training_args)
    assert scores["num_examples"] == 4 and 0.0 <= scores["accuracy"] <= 1.0
    merged = AutoModelForCausalLM.from_pretrained(str(root / "qa"))
    assert not any("lora" in name for name, _ in merged.named_parameters())
