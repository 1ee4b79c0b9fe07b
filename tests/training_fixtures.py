"""Tiny rows, processor and model shared by the training tests."""

import numpy as np
import torch

from modeling_slip import SlipConfig, SlipForConditionalGeneration
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer

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
