"""The three row schemas every SLIP dataset builder writes; one place so readers, builders and scripts agree.

Series are stored channels-first as ``List(List(float32))`` of shape (C, T); NaN marks a missing step.
``freq`` is any string `processing_slip` parses ("50Hz", "1min", "h", ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from datasets import ClassLabel, Features, List, Value

from .captions import CAPTION_LEVELS

SERIES = List(List(Value("float32")))

CORPUS_FEATURES = Features(
    {
        "id": Value("string"),
        "series": SERIES,
        "channel_names": List(Value("string")),
        "units": List(Value("string")),
        "freq": Value("string"),
        "domain": Value("string"),
        "source": Value("string"),
        **{f"caption_{level}": Value("string") for level in CAPTION_LEVELS},
        "caption": Value("string"),
    }
)
"""Pretraining pairs. ``caption`` is the text trained on: the levels joined per the builder's level mix."""


def classification_features(label_names: Sequence[str]) -> Features:
    """Downstream classification windows (linear probe, zero-shot, retrieval)."""
    return Features(
        {
            "id": Value("string"),
            "series": SERIES,
            "channel_names": List(Value("string")),
            "freq": Value("string"),
            "label": ClassLabel(names=list(label_names)),
            "subject": Value("string"),
            "source": Value("string"),
        }
    )


QA_FEATURES = Features(
    {
        "id": Value("string"),
        "series": SERIES,
        "channel_names": List(Value("string")),
        "freq": Value("string"),
        "task": Value("string"),
        "question": Value("string"),
        "choices": List(Value("string")),
        "answer": Value("string"),
        "rationale": Value("string"),
    }
)
"""Question answering / captioning SFT. ``choices`` is empty for open answers (captions);
``rationale`` holds chain-of-thought text where the source has it, else ""."""
