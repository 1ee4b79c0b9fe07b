"""Score a pretrained SLIP model on training data only, to choose pretraining settings without looking at test.

    python examples/validate_defaults.py --model_name_or_path runs/candidate

Per classification set: the linear probe of the model's features and of a randomly initialised copy, each fitted
on repeated subject-disjoint (where subjects are recorded) or stratified 75/25 splits of the set's *train*
split and scored on the held-out quarter (mean and std over the splits). Then zero-shot accuracy on the UCI-HAR
validation subjects (28-30, train subjects the corpus leaves out). Classes with fewer than `min_class_rows`
train rows (ECG5000 has one, of 2 rows) are left out, with a note, because the nested splits cannot stratify them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
from transformers import AutoModel, AutoProcessor, HfArgumentParser

import slip  # noqa: F401  (registers the Auto classes)
from evaluation_slip.baselines import random_init_like
from evaluation_slip.features import extract_patch_features
from evaluation_slip.linear_probe import held_out_probe_accuracy
from evaluation_slip.suite import full_train_split_options, subject_groups
from evaluation_slip.zero_shot import evaluate_zero_shot
from hub_datasets import load_evaluation_set, zero_shot_prompts


@dataclass
class ValidationArguments:
    model_name_or_path: str = field(metadata={"help": "A SLIP checkpoint with its processor."})
    datasets: str = field(
        default="basic_motions,ecg200,ecg5000,uci_har_hapt",
        metadata={"help": "Comma-separated classification sets whose train split is scored."},
    )
    held_out_fraction: float = field(
        default=0.25, metadata={"help": "Share of train rows held out per split."}
    )
    small_set_splits: int = field(default=20, metadata={"help": "Splits for sets of fewer than 300 rows."})
    medium_set_splits: int = field(default=8, metadata={"help": "Splits for sets of 300 to 999 rows."})
    large_set_splits: int = field(default=3, metadata={"help": "Splits for sets of 1,000 rows or more."})
    min_class_rows: int = field(default=8, metadata={"help": "Rarer classes are left out (see above)."})
    dataset_cache_dir: str | None = field(default=None, metadata={"help": "Cache of the prepared datasets."})
    batch_size: int = field(default=64, metadata={"help": "Series per forward pass."})


def _num_splits(args: ValidationArguments, rows: int) -> int:
    if rows < 300:
        return args.small_set_splits
    return args.medium_set_splits if rows < 1000 else args.large_set_splits


def _held_out_probe(
    args: ValidationArguments, model, random_model, processor, name: str
) -> dict[str, list[float]]:
    """Held-out accuracy (%) of the model's and the random copy's probe on each split of `name`'s train rows."""
    train = load_evaluation_set(
        name, "train", cache_dir=args.dataset_cache_dir, **full_train_split_options(name)
    )
    labels = np.asarray(train["label"])
    classes, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, classes[counts >= args.min_class_rows])
    if not keep.all():
        print(
            f"{name}: left out classes {classes[counts < args.min_class_rows].tolist()} ({(~keep).sum()} rows)"
        )
    groups = subject_groups(train)
    split_options = {
        "groups": None if groups is None else groups[keep],
        "num_splits": _num_splits(args, int(keep.sum())),
        "held_out_fraction": args.held_out_fraction,
    }
    return {
        method: [
            100 * accuracy
            for accuracy in held_out_probe_accuracy(
                extract_patch_features(encoder, processor, train, batch_size=args.batch_size)[keep],
                labels[keep],
                **split_options,
            )
        ]
        for method, encoder in (("slip", model), ("random_init", random_model))
    }


def main() -> None:
    (args,) = HfArgumentParser(ValidationArguments).parse_args_into_dataclasses()
    model = AutoModel.from_pretrained(args.model_name_or_path).eval()
    processor = AutoProcessor.from_pretrained(args.model_name_or_path)
    random_model = random_init_like(model)
    report: dict[str, dict[str, float]] = {}
    for name in [name for name in args.datasets.split(",") if name]:
        scores = _held_out_probe(args, model, random_model, processor, name)
        report[name] = {
            f"{method}_{stat}": float(fn(values))
            for method, values in scores.items()
            for stat, fn in (("mean", np.mean), ("std", np.std))
        }
        summary = report[name]
        print(name, "  ".join(f"{m}: {summary[m + '_mean']:.2f} ± {summary[m + '_std']:.2f}" for m in scores))
    validation = load_evaluation_set("uci_har_hapt", "validation", cache_dir=args.dataset_cache_dir)
    zero_shot = evaluate_zero_shot(
        model, processor, validation, zero_shot_prompts("uci_har_hapt"), batch_size=args.batch_size
    )
    report["uci_har_hapt_validation_zero_shot"] = {"accuracy": 100 * zero_shot.metrics["accuracy"]}
    print(f"UCI-HAR validation subjects zero-shot: {100 * zero_shot.metrics['accuracy']:.2f} %")
    with open(os.path.join(args.model_name_or_path, "validation_results.json"), "w") as handle:
        json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
