"""Finetune a pretrained SLIP model to answer questions about series (caption loss only), full or with LoRA.

    python examples/finetune_qa.py --model_name_or_path runs/slip-tiny --dataset_name slip_synthetic_qa \
        --output_dir runs/slip-tiny-qa --num_train_epochs 3 --per_device_train_batch_size 16 [--use_lora]

Prints and saves (qa_results.json) the answer accuracy on the test split, scored by a robust answer parser.
"""

import sys

from transformers import HfArgumentParser

from training_slip.finetuning import FinetuningArguments, run_finetuning
from training_slip.trainer import SlipTrainingArguments


def main() -> None:
    parser = HfArgumentParser((FinetuningArguments, SlipTrainingArguments))
    if len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        finetuning_args, training_args = parser.parse_json_file(sys.argv[1])
    else:
        finetuning_args, training_args = parser.parse_args_into_dataclasses()
    scores = run_finetuning(finetuning_args, training_args)
    print({key: value for key, value in scores.items()})


if __name__ == "__main__":
    main()
