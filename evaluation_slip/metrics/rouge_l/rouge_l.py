"""Mean sentence-level ROUGE-L F-measure (rouge-score); an offline local `evaluate` module."""

import datasets
import evaluate
from rouge_score import rouge_scorer

_DESCRIPTION = """ROUGE-L (longest common subsequence) F-measure per prediction from Google's rouge-score package,
averaged over predictions. With several references a prediction scores its best reference."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated captions.
    references: list of reference captions, or list of lists of references.
    use_stemmer: Porter-stem tokens before matching. Default False.
Returns:
    rouge_l: mean ROUGE-L F-measure in [0, 1]; rouge_l_precision and rouge_l_recall: the matching means.
Examples:
    >>> rouge = evaluate.load("evaluation_slip/metrics/rouge_l")
    >>> rouge.compute(predictions=["the cat sat"], references=["the cat sat down"])["rouge_l"]
    0.857...
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RougeL(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Lin, ROUGE: A Package for Automatic Evaluation of Summaries, ACL Workshop 2004.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string"),
                        "references": datasets.Sequence(datasets.Value("string")),
                    }
                ),
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
                ),
            ],
        )

    def _compute(self, predictions, references, use_stemmer=False):
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
        scores = [
            scorer.score_multi([refs] if isinstance(refs, str) else list(refs), prediction)["rougeL"]
            for prediction, refs in zip(predictions, references)
        ]
        if not scores:
            raise ValueError("rouge_l needs at least one prediction.")
        return {
            "rouge_l": sum(s.fmeasure for s in scores) / len(scores),
            "rouge_l_precision": sum(s.precision for s in scores) / len(scores),
            "rouge_l_recall": sum(s.recall for s in scores) / len(scores),
        }
