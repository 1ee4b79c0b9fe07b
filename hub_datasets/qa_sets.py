"""Question-answering sets for supervised finetuning of `SlipForConditionalGeneration`, built from our own data.

``slip_synthetic_qa``: multiple-choice questions about the sampled attributes of synthetic series (trend
direction, presence of a cycle, its period, spike count, level shift). Answers are true by construction:
questions ask about the first channel, which no coupling feeds.

``slip_har_qa``: "which activity?" over UCI-HAR windows (from HAPT). Its train split comes from UCI-HAR train
subjects only, its test split from the test subjects, so the score is a cross-subject result.

Rows follow `schema.QA_FEATURES`; every question here is multiple choice (``task="multiple_choice"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import datasets
import numpy as np

from .captions import TimeAxis
from .corpus import freq_string
from .evaluation_sets import UciHarHapt
from .schema import QA_FEATURES
from .synthetic import SyntheticAttributes, generate_synthetic

MULTIPLE_CHOICE = "multiple_choice"


def _subject(attrs: SyntheticAttributes) -> str:
    return "the series" if attrs.num_channels == 1 else "channel A"


def _trend_question(attrs: SyntheticAttributes, axis: TimeAxis, rng) -> tuple[str, list[str], str]:
    channel = attrs.channels[0]
    answer = (
        "no trend" if channel.trend_shape == "flat" else ("rising" if channel.trend_change > 0 else "falling")
    )
    return f"What is the underlying trend of {_subject(attrs)}?", ["rising", "falling", "no trend"], answer


def _cycle_question(attrs: SyntheticAttributes, axis: TimeAxis, rng) -> tuple[str, list[str], str]:
    answer = "yes" if attrs.channels[0].period is not None else "no"
    return f"Does {_subject(attrs)} follow a periodic cycle?", ["yes", "no"], answer


def _period_question(attrs: SyntheticAttributes, axis: TimeAxis, rng) -> tuple[str, list[str], str] | None:
    period = attrs.channels[0].period
    if period is None:
        return None
    factors = [1.0, 0.5, 2.0, 3.0] if period * 3.0 < attrs.length else [1.0, 0.5, 0.25, 1.75]
    choices = [axis.duration(period * f) for f in factors]
    if len(set(choices)) < len(choices):
        return None
    return f"What is the period of the cycle in {_subject(attrs)}?", choices, choices[0]


def _spike_question(attrs: SyntheticAttributes, axis: TimeAxis, rng) -> tuple[str, list[str], str]:
    count = len(attrs.channels[0].spikes)
    return f"How many isolated spikes does {_subject(attrs)} contain?", ["0", "1", "2", "3"], str(count)


def _shift_question(attrs: SyntheticAttributes, axis: TimeAxis, rng) -> tuple[str, list[str], str]:
    shift = attrs.channels[0].level_shift
    answer = "no" if shift is None else ("yes, upwards" if shift[1] > 0 else "yes, downwards")
    return (
        f"Does the level of {_subject(attrs)} shift abruptly?",
        ["no", "yes, upwards", "yes, downwards"],
        answer,
    )


QuestionMaker = Callable[
    [SyntheticAttributes, TimeAxis, np.random.Generator], "tuple[str, list[str], str] | None"
]
SYNTHETIC_QUESTIONS: dict[str, QuestionMaker] = {
    "trend": _trend_question,
    "cycle": _cycle_question,
    "period": _period_question,
    "spikes": _spike_question,
    "level_shift": _shift_question,
}


def _shuffled(choices: list[str], rng: np.random.Generator) -> list[str]:
    return [choices[i] for i in rng.permutation(len(choices))]


@dataclass
class SyntheticQAConfig(datasets.BuilderConfig):
    """Args: size (questions per split: train, test), seed, series lengths and channel counts."""

    train_size: int = 2000
    test_size: int = 500
    seed: int = 0
    min_length: int = 64
    max_length: int = 512
    max_channels: int = 3


class SyntheticQA(datasets.GeneratorBasedBuilder):
    """Multiple-choice questions about synthetic series whose attributes are known exactly."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = SyntheticQAConfig
    BUILDER_CONFIGS = [SyntheticQAConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=__doc__, features=QA_FEATURES)

    def _split_generators(self, dl_manager):
        config = self.config
        return [
            datasets.SplitGenerator(
                name="train", gen_kwargs={"size": config.train_size, "seed": config.seed}
            ),
            # A disjoint seed stream: test series never repeat train series.
            datasets.SplitGenerator(
                name="test", gen_kwargs={"size": config.test_size, "seed": config.seed + 10**6}
            ),
        ]

    def _generate_examples(self, size: int, seed: int) -> Iterator[tuple[str, dict]]:
        config = self.config
        rng = np.random.default_rng(seed)
        series_stream = generate_synthetic(
            10 * size,
            seed=seed,
            min_length=config.min_length,
            max_length=config.max_length,
            max_channels=config.max_channels,
        )
        kinds = list(SYNTHETIC_QUESTIONS)
        produced = 0
        for index, (series, attrs, _, description) in enumerate(series_stream):
            if produced == size:
                return
            kind = kinds[produced % len(kinds)]
            axis = TimeAxis(attrs.length, attrs.seconds_per_step, attrs.start)
            made = SYNTHETIC_QUESTIONS[kind](attrs, axis, rng)
            if made is None:
                continue
            question, choices, answer = made
            key = f"synthetic-qa/{seed}/{index:06d}/{kind}"
            yield (
                key,
                {
                    "id": key,
                    "series": series,
                    "channel_names": list(description.channel_names),
                    "freq": freq_string(attrs.seconds_per_step),
                    "task": MULTIPLE_CHOICE,
                    "question": question,
                    "choices": _shuffled(choices, rng),
                    "answer": answer,
                    "rationale": "",
                },
            )
            produced += 1
        raise RuntimeError(f"Could only make {produced} of {size} synthetic questions; lower the size.")


HAR_QUESTION = (
    "This recording comes from a smartphone worn on the waist (3-axis accelerometer in g and 3-axis gyroscope "
    "in rad/s, 50 Hz, 2.56 s). Which activity is the person doing?"
)


@dataclass
class HarQAConfig(datasets.BuilderConfig):
    """Args: seed for the option order."""

    seed: int = 0


class HarQA(datasets.GeneratorBasedBuilder):
    """ "Which activity?" multiple-choice questions over UCI-HAR windows (train subjects -> train, test -> test)."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = HarQAConfig
    BUILDER_CONFIGS = [HarQAConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=__doc__, features=QA_FEATURES)

    def _split_generators(self, dl_manager):
        windows = UciHarHapt(cache_dir=self._cache_dir_root)
        windows.download_and_prepare()
        return [
            datasets.SplitGenerator(name=name, gen_kwargs={"rows": windows.as_dataset(split=name)})
            for name in ("train", "test")
        ]

    def _generate_examples(self, rows: datasets.Dataset) -> Iterator[tuple[str, dict]]:
        rng = np.random.default_rng(self.config.seed)
        label_names = rows.features["label"].names
        for row in rows:
            key = f"har-qa/{row['id']}"
            yield (
                key,
                {
                    "id": key,
                    "series": row["series"],
                    "channel_names": row["channel_names"],
                    "freq": row["freq"],
                    "task": MULTIPLE_CHOICE,
                    "question": HAR_QUESTION,
                    "choices": _shuffled(list(label_names), rng),
                    "answer": label_names[row["label"]],
                    "rationale": "",
                },
            )
