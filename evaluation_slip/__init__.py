"""Evaluation for SLIP: linear probe, zero-shot, retrieval, baselines, captioning metrics and caption
faithfulness, QA scoring, reports.

Needs the `train` extra (scikit-learn); captioning metrics need the `metrics` extra. `datasets` is optional:
every function takes plain arrays and lists as well as `datasets.Dataset` rows.
"""

from .answer_parsing import parse_answer, score_answers
from .baselines import patchtst_baseline, random_init_like, statistical_baseline, statistical_features
from .captioning import CAPTION_METRICS, caption_metrics, metric_path
from .faithfulness import (
    CaptionFaithfulness,
    Claim,
    SeriesMetadata,
    caption_collapse,
    check_caption,
    faithfulness_from_rows,
    faithfulness_metrics,
)
from .features import (
    extract_patch_features,
    extract_sensor_embeddings,
    extract_sensor_features,
    extract_text_embeddings,
    series_and_freqs,
)
from .linear_probe import (
    ProbeResult,
    SeedResult,
    classification_metrics,
    held_out_probe_accuracy,
    linear_probe,
    train_val_split,
)
from .report import ResultRow, ResultsTable
from .retrieval import evaluate_retrieval, retrieval_recall
from .zero_shot import (
    ZeroShotResult,
    class_embeddings,
    evaluate_zero_shot,
    zero_shot_classify,
    zero_shot_scores,
)

__all__ = [
    "CAPTION_METRICS",
    "CaptionFaithfulness",
    "Claim",
    "ProbeResult",
    "ResultRow",
    "ResultsTable",
    "SeedResult",
    "SeriesMetadata",
    "ZeroShotResult",
    "caption_collapse",
    "caption_metrics",
    "check_caption",
    "class_embeddings",
    "classification_metrics",
    "evaluate_retrieval",
    "evaluate_zero_shot",
    "extract_patch_features",
    "extract_sensor_embeddings",
    "extract_sensor_features",
    "extract_text_embeddings",
    "faithfulness_from_rows",
    "faithfulness_metrics",
    "held_out_probe_accuracy",
    "linear_probe",
    "metric_path",
    "parse_answer",
    "patchtst_baseline",
    "random_init_like",
    "retrieval_recall",
    "score_answers",
    "series_and_freqs",
    "statistical_baseline",
    "statistical_features",
    "train_val_split",
    "zero_shot_classify",
    "zero_shot_scores",
]
