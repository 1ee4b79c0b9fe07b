"""Evaluate a SLIP checkpoint on any classification builder of `hub_datasets.BUILDERS` by name.

    python examples/run_evaluation.py --model_name_or_path outputs/quickstart --datasets uci_har_hapt,ecg200
    python examples/run_evaluation.py --model_name_or_path runs/slip-base --datasets ptb_xl,wisdm \
        --dataset_data_dir ptb_xl=/data/ptb-xl,wisdm=/data/wisdm   # downloadable sets: raw files or internet

Per set: linear probe of the frozen features and of a randomly initialised copy, statistical features + LR,
supervised PatchTST (validation split of train for every selection, 5 seeds), and zero-shot where the set has
prompt templates. Prints a Markdown table; `--output_dir` also gets results.json and results.md.
"""

import os
from dataclasses import dataclass, field

from transformers import AutoModel, AutoProcessor, HfArgumentParser

import slip  # noqa: F401  (registers the Auto classes)
from evaluation_slip.report import ResultsTable
from evaluation_slip.suite import BASELINES, evaluate_classification_set


@dataclass
class EvaluationArguments:
    model_name_or_path: str = field(metadata={"help": "A SLIP checkpoint with its processor."})
    datasets: str = field(metadata={"help": "Comma-separated builder names (python -m hub_datasets list)."})
    baselines: str = field(
        default=",".join(BASELINES), metadata={"help": "Comma-separated baselines to run."}
    )
    dataset_data_dir: str = field(
        default="", metadata={"help": "name=dir pairs of raw files, comma separated."}
    )
    dataset_cache_dir: str | None = field(default=None, metadata={"help": "Cache of the prepared datasets."})
    output_dir: str | None = field(
        default=None, metadata={"help": "Where to write results.json / results.md."}
    )
    batch_size: int = field(default=64, metadata={"help": "Series per forward pass."})


def main() -> None:
    (args,) = HfArgumentParser(EvaluationArguments).parse_args_into_dataclasses()
    model = AutoModel.from_pretrained(args.model_name_or_path).eval()
    processor = AutoProcessor.from_pretrained(args.model_name_or_path)
    data_dirs = dict(pair.split("=", 1) for pair in args.dataset_data_dir.split(",") if pair)
    table = ResultsTable()
    for name in [name for name in args.datasets.split(",") if name]:
        evaluate_classification_set(
            model,
            processor,
            name,
            table,
            baselines=[b for b in args.baselines.split(",") if b],
            cache_dir=args.dataset_cache_dir,
            batch_size=args.batch_size,
            builder_options={"data_dir": data_dirs[name]} if name in data_dirs else None,
        )
    markdown = table.to_markdown()
    print(markdown)
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        table.save_json(os.path.join(args.output_dir, "results.json"))
        with open(os.path.join(args.output_dir, "results.md"), "w") as handle:
            handle.write(markdown)


if __name__ == "__main__":
    main()
