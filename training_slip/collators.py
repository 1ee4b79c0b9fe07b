"""Data collators that turn dataset rows (schema in `hub_datasets.schema`) into model batches via the processor."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from transformers import BatchFeature
from transformers.utils import logging

from modeling_slip.losses import caption_labels
from modeling_slip.packing import pack_captions, sensor_token_index
from processing_slip.frequency import DefaultFrequencyWarning

logger = logging.get_logger(__name__)


def rows_to_series(rows: Sequence[dict[str, Any]], column: str = "series") -> list[np.ndarray]:
    """Stored (C, T) nested lists -> float32 arrays, the form the processor takes for ragged batches."""
    return [np.asarray(row[column], dtype=np.float32) for row in rows]


def rows_to_freqs(rows: Sequence[dict[str, Any]]) -> list[str | None]:
    """Stored frequencies; "" (the dataset records no rate, e.g. a synthetic series without a time axis) becomes
    None, so the feature extractor applies its documented default."""
    return [row["freq"] or None for row in rows]


def process_rows(processor: Any, rows: Sequence[dict[str, Any]], **kwargs: Any) -> BatchFeature:
    """`processor(series=..., freq=..., **kwargs)` on dataset rows. Rows without a rate are reported once per
    run rather than once per batch."""
    freqs = rows_to_freqs(rows)
    with warnings.catch_warnings():
        if None in freqs:
            logger.warning_once(
                "Some rows record no sampling frequency (freq=''); they use the feature extractor's default "
                f"({processor.feature_extractor.default_freq or '1 s per step'})."
            )
            warnings.simplefilter("ignore", DefaultFrequencyWarning)
        return processor(series=rows_to_series(rows), freq=freqs, **kwargs)


def padding_free(batch: BatchFeature, captions: bool = True) -> dict[str, Any]:
    """The batch with its valid sensor tokens indexed and, with `captions`, its captions packed
    (`modeling_slip.packing`), found here on the host so the training step computes no padding and never waits
    on the device for it."""
    packed = dict(batch)
    packed["sensor_token_index"] = sensor_token_index(batch["sensor_mask"])
    if captions:
        packed.update(pack_captions(batch["input_ids"], packed.pop("attention_mask"), batch.get("labels")))
    return packed


@dataclass
class SlipPretrainingCollator:
    """(series, caption) rows -> sensor tensors + caption tokens + labels for the CoCa objective.

    Captions longer than `max_text_length` tokens are cut (keeping <eos>) with a warning, so one runaway caption
    cannot blow up a batch. The encoder computes only valid sensor tokens (`pack_sensor`, the default); with
    `pack_captions` the captions also run as one packed sequence (`padding_free`). The losses are those of the
    padded batch either way. Packed captions attend within a block-diagonal mask over the whole batch, whose
    cost grows with the square of the batch's caption tokens: it pays off with flash-attention's varlen
    kernels and with a wide text tower (Gemma-3-270M), not for the tiny preset on a CPU
    (`benchmarks/bench_training_step.py` measures both)."""

    processor: Any
    caption_column: str = "caption"
    max_text_length: int = 128
    pack_sensor: bool = True
    pack_captions: bool = False

    def __call__(self, rows: Sequence[dict[str, Any]]) -> BatchFeature:
        batch = process_rows(
            self.processor,
            rows,
            text=[row[self.caption_column] for row in rows],
            max_length=self.max_text_length,
            truncation=True,
            return_tensors="pt",
        )
        if int(batch["attention_mask"].sum(dim=1).max()) >= self.max_text_length:
            logger.warning_once(
                f"Some captions reach max_text_length={self.max_text_length} tokens and are cut there (<eos> kept); "
                "raise max_text_length to train on them whole."
            )
        batch["labels"] = caption_labels(batch["input_ids"], batch["attention_mask"])
        return padding_free(batch, self.pack_captions) if self.pack_sensor else batch


def format_question(row: dict[str, Any]) -> str:
    """Question text with lettered options when the row is multiple choice."""
    choices = row.get("choices") or []
    if not choices:
        return row["question"]
    options = "\n".join(f"({chr(ord('A') + i)}) {choice}" for i, choice in enumerate(choices))
    return f"{row['question']}\n{options}\nAnswer with the letter and the option."


def format_answer(row: dict[str, Any]) -> str:
    """Target text: the lettered option for multiple choice (so the parser can read either), else the answer."""
    choices = row.get("choices") or []
    answer = row["answer"]
    if choices:
        answer = f"({chr(ord('A') + list(choices).index(answer))}) {answer}"
    rationale = row.get("rationale") or ""
    return f"{rationale} Answer: {answer}" if rationale else answer


@dataclass
class SlipQACollator:
    """Question-answer rows (`hub_datasets.schema.QA_FEATURES`) -> chat-formatted SFT batches whose labels
    cover only the answer turn; valid sensor tokens only and packed captions as `SlipPretrainingCollator`."""

    processor: Any
    max_text_length: int = 256
    pack_sensor: bool = True
    pack_captions: bool = False

    def __call__(self, rows: Sequence[dict[str, Any]]) -> BatchFeature:
        batch = process_rows(
            self.processor,
            rows,
            prompts=[format_question(row) for row in rows],
            answers=[format_answer(row) for row in rows],
            max_length=self.max_text_length,
            return_tensors="pt",
        )
        return padding_free(batch, self.pack_captions) if self.pack_sensor else batch
