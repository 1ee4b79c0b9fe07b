"""Tiny rows, corpora, processor, model and pretraining arguments shared by the training tests."""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, DatasetDict, Features, Value

from hub_datasets.export import export_dataset
from hub_datasets.schema import SERIES
from modeling_slip import SlipConfig, SlipForConditionalGeneration
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer
from training_slip.pretraining import DataArguments, ModelArguments
from training_slip.trainer import SlipTrainingArguments

WORDS = "the signal rises falls slowly quickly with a daily cycle and two spikes near the end of the window".split()


def caption_rows(count: int, seed: int = 0) -> list[dict]:
    """Rows of the corpus schema's training columns, with varied lengths, channel counts and caption lengths."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        length = int(rng.integers(40, 200))
        channels = int(rng.integers(1, 4))
        rows.append(
            {
                "series": rng.standard_normal((channels, length)).astype(np.float32).tolist(),
                "freq": "10Hz",
                "caption": " ".join(rng.choice(WORDS, size=int(rng.integers(3, 25)))),
            }
        )
    return rows


def tiny_processor(rows: list[dict]) -> SlipProcessor:
    tokenizer = train_caption_tokenizer([row["caption"] for row in rows], vocab_size=300, min_frequency=1)
    return SlipProcessor(SlipFeatureExtractor(), tokenizer)


def tiny_model(**overrides) -> SlipForConditionalGeneration:
    torch.manual_seed(0)
    return SlipForConditionalGeneration(SlipConfig.from_preset("tiny", **overrides))


def export_corpus(rows: list[dict], path: Path) -> str:
    """Write ``rows`` as a one-split corpus folder the way `python -m hub_datasets build --export` does, for
    `--dataset_path`."""
    features = Features({"series": SERIES, "freq": Value("string"), "caption": Value("string")})
    export_dataset(DatasetDict({"train": Dataset.from_list(rows, features=features)}), path)
    return str(path)


def tiny_pretraining_arguments(
    corpus: str, output_dir: str, *, drop_invalid_rows: bool = False, **training: Any
) -> tuple[ModelArguments, DataArguments, SlipTrainingArguments]:
    """`run_pretraining` arguments for a few CPU steps of the tiny preset on an exported corpus."""
    data = DataArguments(
        dataset_path=corpus,
        validation_size=4,
        dataset_cache_dir=str(Path(output_dir).parent / "datasets-cache"),
        drop_invalid_rows=drop_invalid_rows,
    )
    args = SlipTrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=4,
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        **training,
    )
    return ModelArguments(preset="tiny"), data, args
