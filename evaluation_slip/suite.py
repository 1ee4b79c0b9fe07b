"""The evaluation protocol of one classification set, for any builder of `hub_datasets.BUILDERS`.

Linear probe of the model's frozen features and the same probe of a randomly initialised copy, the statistical
features baseline and supervised PatchTST (all with model selection on a validation split of train, 5 seeds),
plus zero-shot classification when the set has prompt templates. Every number lands in one `ResultsTable`.
Baseline results are cached across runs (`baseline_cache`): they do not depend on the pretrained weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .baseline_cache import cached_baseline
from .baselines import patchtst_baseline, random_init_like, statistical_baseline
from .features import extract_patch_features
from .linear_probe import DEFAULT_SEEDS, ProbeResult, linear_probe
from .report import ResultsTable
from .zero_shot import ZeroShotResult, evaluate_zero_shot

BASELINES = ("random_init", "statistical", "patchtst")


@dataclass
class ClassificationEvaluation:
    """What `evaluate_classification_set` measured; `zero_shot` is None for sets without prompts."""

    dataset: str
    zero_shot: ZeroShotResult | None
    results: dict[str, Any] = field(default_factory=dict)


def full_train_split_options(name: str) -> dict[str, Any]:
    """Builder options that keep the whole official train split: the probe draws its own validation split."""
    from hub_datasets import BUILDERS
    from hub_datasets.evaluation_sets import EvaluationConfig

    if issubclass(BUILDERS[name].BUILDER_CONFIG_CLASS, EvaluationConfig):
        return {"validation_fraction": 0.0, "validation_subjects": ()}
    return {}


def public_fields(config: dict[str, Any]) -> dict[str, Any]:
    """A config dict without its private and run-specific fields (`_name_or_path`, the attention backend...),
    which do not change what a randomly initialised copy computes."""
    return {
        key: public_fields(value) if isinstance(value, dict) else value
        for key, value in config.items()
        if not str(key).startswith("_") and key not in ("transformers_version", "dtype")
    }


def subject_groups(rows) -> np.ndarray | None:
    """Subjects, when the set records them, so validation splits are subject-disjoint."""
    subjects = np.asarray(rows["subject"]) if "subject" in rows.column_names else None
    if subjects is None or (subjects == "").any():
        return None
    return subjects


def evaluate_classification_set(
    model: Any,
    processor: Any,
    name: str,
    table: ResultsTable,
    *,
    note: str = "",
    baselines: Sequence[str] = BASELINES,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    cache_dir: str | None = None,
    batch_size: int = 64,
    show_progress: bool = True,
    patchtst_options: dict[str, Any] | None = None,
    builder_options: dict[str, Any] | None = None,
) -> ClassificationEvaluation:
    """Run the protocol on the builder `name`'s train/test splits and add every result to `table`.

    `note` labels the rows (e.g. "cross-subject", "transfer"). `baselines` picks among `BASELINES`.
    `patchtst_options` override `patchtst_baseline`'s arguments (seeds, max_epochs, model size) to fit a budget.
    `builder_options` go to the builder (e.g. `data_dir` of already downloaded raw files, `config_name`).
    """
    from hub_datasets import load_evaluation_set, zero_shot_prompts

    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f"Unknown baselines {unknown}; choose from {BASELINES}.")
    options = full_train_split_options(name) | (builder_options or {})
    train = load_evaluation_set(name, "train", cache_dir=cache_dir, **options)
    test = load_evaluation_set(name, "test", cache_dir=cache_dir, **options)
    y_train, y_test = np.asarray(train["label"]), np.asarray(test["label"])
    probe_kwargs = {"train_groups": subject_groups(train), "seeds": seeds}
    extract = {"batch_size": batch_size, "show_progress": show_progress}
    evaluation = ClassificationEvaluation(dataset=name, zero_shot=None)

    def add(method: str, result: Any) -> None:
        table.add(name, method, result, note)
        evaluation.results[method] = result

    features = (
        extract_patch_features(model, processor, train, **extract),
        extract_patch_features(model, processor, test, **extract),
    )
    add(
        "SLIP linear probe",
        linear_probe(features[0], y_train, features[1], y_test, method="slip", **probe_kwargs),
    )
    data_key = {"dataset": name, "options": options, "seeds": list(seeds)}

    def random_init_probe() -> ProbeResult:
        random_model = random_init_like(model)
        random_features = (
            extract_patch_features(random_model, processor, train, **extract),
            extract_patch_features(random_model, processor, test, **extract),
        )
        return linear_probe(
            random_features[0], y_train, random_features[1], y_test, method="random_init", **probe_kwargs
        )

    if "random_init" in baselines:
        architecture = {
            "model": public_fields(model.config.to_dict()),
            "processor": processor.feature_extractor.to_dict(),
        }
        add(
            "random-init encoder probe",
            cached_baseline(
                cache_dir, {**data_key, "baseline": "random_init", **architecture}, random_init_probe
            ),
        )
    if "statistical" in baselines:
        add(
            "statistical features + LR",
            cached_baseline(
                cache_dir,
                {**data_key, "baseline": "statistical"},
                lambda: statistical_baseline(train, y_train, test, y_test, **probe_kwargs),
            ),
        )
    if "patchtst" in baselines:
        add(
            "supervised PatchTST",
            cached_baseline(
                cache_dir,
                {**data_key, "baseline": "patchtst", "patchtst_options": patchtst_options or {}},
                lambda: patchtst_baseline(
                    train,
                    y_train,
                    test,
                    y_test,
                    show_progress=show_progress,
                    **(probe_kwargs | (patchtst_options or {})),
                ),
            ),
        )
    try:
        templates = zero_shot_prompts(name)
    except ValueError:
        templates = None
    if templates:
        result = evaluate_zero_shot(model, processor, test, templates, **extract)
        add("SLIP zero-shot", result)
        table.add(name, "chance (majority class)", {"accuracy": result.chance_accuracy}, note)
        evaluation.zero_shot = result
    return evaluation
