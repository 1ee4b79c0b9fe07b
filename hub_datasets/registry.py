"""Every dataset builder of the package by name, and the one-call loaders built on them.

`BUILDERS` maps a name to its `datasets.GeneratorBasedBuilder` class: the pretraining corpus, the released
SLIP corpus reader, the offline evaluation sets and the downloadable downstream sets. Builders are used
directly (``download_and_prepare()`` / ``as_dataset()``); no loading script is involved.
"""

from __future__ import annotations

import inspect
import sys

import datasets

from .corpus import SlipCorpus, source_table
from .downstream import DOWNSTREAM_BUILDERS
from .downstream import ZERO_SHOT_PROMPTS as DOWNSTREAM_PROMPTS
from .evaluation_sets import EVALUATION_BUILDERS
from .qa_sets import HarQA, SyntheticQA
from .slip_corpus import ReleasedSlipCorpus

CORPUS_BUILDERS: dict[str, type[datasets.GeneratorBasedBuilder]] = {
    "slip_corpus": SlipCorpus,
    "released_slip_corpus": ReleasedSlipCorpus,
}


QA_BUILDERS: dict[str, type[datasets.GeneratorBasedBuilder]] = {
    "slip_synthetic_qa": SyntheticQA,
    "slip_har_qa": HarQA,
}
"""Question-answering sets built from our own data, for finetuning (see `qa_sets`)."""


def _merge(*groups: dict[str, type]) -> dict[str, type]:
    merged: dict[str, type] = {}
    for group in groups:
        clash = set(merged) & set(group)
        if clash:
            raise RuntimeError(f"Two dataset builders are registered under the names {sorted(clash)}.")
        merged.update(group)
    return merged


BUILDERS: dict[str, type[datasets.GeneratorBasedBuilder]] = _merge(
    CORPUS_BUILDERS, EVALUATION_BUILDERS, QA_BUILDERS, DOWNSTREAM_BUILDERS
)


EVALUATION_PROMPTS: dict[str, dict[str, list[str]]] = {
    name: builder.ZERO_SHOT_PROMPTS for name, builder in EVALUATION_BUILDERS.items()
}


def get_builder(name: str, cache_dir: str | None = None, **config_kwargs) -> datasets.DatasetBuilder:
    """An instance of the builder ``name`` configured by ``config_kwargs`` (its BuilderConfig's fields)."""
    if name not in BUILDERS:
        raise ValueError(f"Unknown dataset {name!r}; choose from {sorted(BUILDERS)}.")
    return BUILDERS[name](cache_dir=cache_dir, **config_kwargs)


def build(
    name: str, cache_dir: str | None = None, num_proc: int | None = None, **config_kwargs
) -> datasets.DatasetDict:
    """Prepare ``name`` in the cache (once) and return all its splits."""
    builder = get_builder(name, cache_dir, **config_kwargs)
    builder.download_and_prepare(num_proc=num_proc)
    return builder.as_dataset()


def load_evaluation_set(
    name: str, split: str, cache_dir: str | None = None, **config_kwargs
) -> datasets.Dataset:
    """One split ("train", "validation", "test") of an evaluation or downstream set."""
    if name in CORPUS_BUILDERS:
        raise ValueError(f"{name!r} is a pretraining corpus; use load_corpus().")
    builder = get_builder(name, cache_dir, **config_kwargs)
    builder.download_and_prepare()
    splits = builder.info.splits
    if split not in splits:
        raise ValueError(f"{name!r} has splits {sorted(splits)}, not {split!r}.")
    return builder.as_dataset(split=split)


def load_corpus(
    cache_dir: str | None = None, num_proc: int | None = None, **config_kwargs
) -> datasets.Dataset:
    """The pretraining corpus (``SlipCorpusConfig`` fields as keyword arguments: size, level_mix, ...)."""
    return build("slip_corpus", cache_dir, num_proc, **config_kwargs)["train"]


def zero_shot_prompts(name: str) -> dict[str, list[str]]:
    """Label -> prompt phrasings of a classification set, for zero-shot classification."""
    if name not in BUILDERS:
        raise ValueError(f"Unknown dataset {name!r}; choose from {sorted(BUILDERS)}.")
    prompts = EVALUATION_PROMPTS.get(name) or DOWNSTREAM_PROMPTS.get(name)
    if not prompts:
        raise ValueError(
            f"{name!r} has no zero-shot prompts (not a classification set, or its classes have no names); "
            f"sets with prompts: {sorted(EVALUATION_PROMPTS) + sorted(DOWNSTREAM_PROMPTS)}."
        )
    return {label: list(texts) for label, texts in prompts.items()}


def card_text(name: str, builder: datasets.DatasetBuilder) -> str:
    """Markdown body of the dataset card of a built dataset."""
    lines = [builder.info.description or "", ""]
    doc = sys.modules[type(builder).__module__].__doc__
    if name == "slip_corpus":
        lines += ["## Sources", "", source_table(builder.config), ""]
    if type(builder).__doc__:
        lines += ["## About", "", inspect.cleandoc(type(builder).__doc__), ""]
    try:
        prompts = zero_shot_prompts(name)
    except ValueError:
        prompts = {}
    if prompts:
        lines += ["## Zero-shot prompts", ""]
        lines += [
            f"- **{label}**: " + "; ".join(f'"{text}"' for text in texts) for label, texts in prompts.items()
        ]
        lines.append("")
    if doc:
        lines += ["## How it was built", "", doc.strip(), ""]
    lines += [
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        'dataset = load_dataset("path/or/hub-id")',
        "```",
        "",
        "With the `slip` package, `hub_datasets.load_exported(folder)` loads a downloaded copy only after "
        "checking every data file against the SHA-256 manifest in this card's `slip_checksums`.",
    ]
    return "\n".join(lines)
