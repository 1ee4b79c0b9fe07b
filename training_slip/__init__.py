"""Training SLIP with `Trainer`: collators, the trainer and its arguments, and the pretraining entry point."""

from .collators import SlipPretrainingCollator, SlipQACollator, format_answer, format_question, rows_to_series
from .data import add_token_lengths, token_count
from .trainer import SlipTrainer, SlipTrainingArguments

__all__ = [
    "SlipPretrainingCollator",
    "SlipQACollator",
    "SlipTrainer",
    "SlipTrainingArguments",
    "add_token_lengths",
    "format_answer",
    "format_question",
    "rows_to_series",
    "token_count",
]
