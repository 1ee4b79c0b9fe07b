"""The end-to-end SLIP run: build the corpus, pretrain, reload with the Auto classes, evaluate, draw figures.

    python examples/quickstart.py                     # the cpu-quickstart recipe: tiny preset, 2 CPU cores
    python examples/quickstart.py --recipe paper --text_model_name_or_path gemma-3-270m ...        # GPU

Evaluation (all on data kept out of the corpus): linear probe and zero-shot on UCI-HAR test subjects
(cross-subject: the corpus holds the train subjects' recordings) and on BasicMotions, ECG200 and ECG5000
(cross-dataset transfer), beside a randomly initialised encoder, statistical features and supervised PatchTST;
sensor<->caption retrieval and caption generation on held-out corpus pairs, with the captions' faithfulness to
their series. Writes `results.md`, `results.json`, `generation_results.json` (every generated caption with its
reference and checked claims) and figures into `--output_dir` and prints the table.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoProcessor, HfArgumentParser

import slip  # noqa: F401  (registers the Auto classes)
from evaluation_slip.captioning import caption_metrics
from evaluation_slip.features import extract_sensor_embeddings, extract_text_embeddings
from evaluation_slip.figures import plot_captions, plot_confusion_matrix, plot_retrieval
from evaluation_slip.generation import generate_texts
from evaluation_slip.report import ResultsTable
from evaluation_slip.retrieval import retrieval_recall
from evaluation_slip.suite import BASELINES, evaluate_classification_set
from training_slip.pretraining import DataArguments, ModelArguments, load_corpus_splits, run_pretraining
from training_slip.recipes import RecipeArguments, parse_with_recipe
from training_slip.trainer import SlipTrainingArguments

EVALUATION_SETS = {
    "uci_har_hapt": "cross-subject",
    "basic_motions": "transfer",
    "ecg200": "transfer",
    "ecg5000": "transfer",
}


@dataclass
class QuickstartArguments:
    """What the end-to-end run evaluates after pretraining."""

    evaluation_sets: str = field(
        default=",".join(EVALUATION_SETS),
        metadata={"help": "Comma-separated classification sets to evaluate."},
    )
    baselines: str = field(
        default=",".join(BASELINES), metadata={"help": "Comma-separated baselines to run."}
    )
    num_caption_pairs: int = field(
        default=64, metadata={"help": "Held-out corpus pairs to caption and score."}
    )
    max_new_tokens: int = field(
        default=128,
        metadata={
            "help": "Tokens per generated caption: the recipe's max_text_length, so that no caption the model "
            "learnt to write whole is cut (a cut caption's last claim is read unfinished, and false)."
        },
    )
    evaluate_only: bool = field(
        default=False,
        metadata={"help": "Evaluate the model already saved in --output_dir instead of pretraining."},
    )
    patchtst_seeds: int = field(default=3, metadata={"help": "Seeds of the supervised PatchTST baseline."})
    patchtst_epochs: int = field(
        default=3, metadata={"help": "Most epochs per PatchTST run (early stopping)."}
    )


def _retrieval_and_captions(args, model_dir: str, validation, table: ResultsTable, figures: str) -> dict:
    model = AutoModel.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    captions = validation["caption"]
    sensor = extract_sensor_embeddings(model, processor, validation)
    text = extract_text_embeddings(model, processor, captions)
    recall = retrieval_recall(sensor, text, captions)
    table.add("corpus (held out)", "SLIP retrieval", recall, f"{len(captions)} pairs")
    query = int(np.argmax([len(caption) for caption in captions[:32]]))
    scores = sensor @ text[query]
    best = np.argsort(-scores)[:3]
    series = [np.asarray(validation[int(i)]["series"]) for i in best]
    plot_retrieval(
        captions[query],
        series,
        scores[best].tolist(),
        [captions[int(i)] for i in best],
        os.path.join(figures, "retrieval_example.png"),
    )

    generator = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    pairs = validation.select(range(min(args.num_caption_pairs, len(validation))))
    generated = generate_texts(
        generator, processor, pairs, max_new_tokens=args.max_new_tokens, desc="Captioning"
    )
    scores = caption_metrics(generated, pairs["caption"], rows=pairs)
    checked = scores.pop("faithfulness")
    table.add("corpus (held out)", "SLIP captioning", scores, f"{len(pairs)} pairs")
    shown = _one_per_source(pairs["source"])
    plot_captions(
        [np.asarray(pairs[i]["series"]) for i in shown],
        [generated[i] for i in shown],
        [pairs["caption"][i] for i in shown],
        os.path.join(figures, "generated_captions.png"),
        checked=[checked["captions"][i] for i in shown],
    )
    return {
        "retrieval": recall,
        "captioning": scores,
        "faithfulness_by_claim_kind": checked["by_kind"],
        "captions": [
            {"source": source, "reference": reference, **result}
            for source, reference, result in zip(pairs["source"], pairs["caption"], checked["captions"])
        ],
    }


def _one_per_source(sources: list[str], most: int = 4) -> list[int]:
    """Indices of the first pair of each source, up to `most`: the caption figure shows different kinds of data."""
    first: dict[str, int] = {}
    for index, source in enumerate(sources):
        first.setdefault(source, index)
    return list(first.values())[:most]


def main() -> None:
    parser = HfArgumentParser(
        (QuickstartArguments, RecipeArguments, ModelArguments, DataArguments, SlipTrainingArguments)
    )
    args, _, model_args, data_args, training_args = parse_with_recipe(parser, default_recipe="cpu-quickstart")
    started = time.time()
    if args.evaluate_only:
        validation = load_corpus_splits(data_args, training_args.seed)["test"]
    else:
        validation = run_pretraining(model_args, data_args, training_args)[0].eval_dataset
    model_dir = training_args.output_dir
    pretrain_minutes = (time.time() - started) / 60

    figures = os.path.join(model_dir, "figures")
    os.makedirs(figures, exist_ok=True)
    table = ResultsTable()
    model = AutoModel.from_pretrained(model_dir).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    baselines = [name for name in args.baselines.split(",") if name]
    for name in [name for name in args.evaluation_sets.split(",") if name]:
        evaluation = evaluate_classification_set(
            model,
            processor,
            name,
            table,
            note=EVALUATION_SETS.get(name, ""),
            baselines=baselines,
            cache_dir=data_args.dataset_cache_dir,
            patchtst_options={"seeds": tuple(range(args.patchtst_seeds)), "max_epochs": args.patchtst_epochs},
        )
        if evaluation.zero_shot is not None:
            plot_confusion_matrix(
                evaluation.zero_shot.confusion_matrix,
                evaluation.zero_shot.label_names,
                f"SLIP zero-shot on {name} test",
                os.path.join(figures, f"zero_shot_confusion_{name}.png"),
            )
    extra = _retrieval_and_captions(args, model_dir, validation, table, figures)

    minutes = (time.time() - started) / 60
    header = (
        ("evaluation only; " if args.evaluate_only else "")
        + f"SLIP {model_args.preset} preset, {training_args.max_steps} steps x {training_args.per_device_train_batch_size} "
        f"pairs from a {data_args.corpus_size}-pair corpus; pretraining {pretrain_minutes:.1f} min, "
        f"everything {minutes:.1f} min on {torch.get_num_threads()} CPU threads"
        + (f" / {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    )
    markdown = f"{header}\n\n" + table.to_markdown(
        metrics=(
            "accuracy",
            "balanced_accuracy",
            "macro_f1",
            "sensor_to_text/R@1",
            "text_to_sensor/R@1",
            "sensor_to_text/R@10",
            "bleu4",
            "rouge_l",
            "meteor",
            "sbert_similarity",
            "true_claim_share",
            "faithful_caption_share",
            "identical_caption_share",
        )
    )
    with open(os.path.join(model_dir, "results.md"), "w") as handle:
        handle.write(markdown)
    table.save_json(os.path.join(model_dir, "results.json"))
    with open(os.path.join(model_dir, "generation_results.json"), "w") as handle:
        json.dump(extra, handle, indent=2, default=str)
    print(markdown)
    print(f"Model, processor, results and figures: {os.path.abspath(model_dir)}")


if __name__ == "__main__":
    main()
