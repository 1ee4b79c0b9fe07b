"""Corpus BLEU-4 (sacrebleu) in [0, 1], as the SLIP paper reports it; an offline local `evaluate` module."""

import datasets
import evaluate
import sacrebleu

_DESCRIPTION = """Corpus-level BLEU-4 from sacrebleu (13a tokenisation, exponential smoothing by default), divided by
100 so it lies in [0, 1] like the SLIP paper's captioning table. Every prediction needs the same number of
references."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated captions.
    references: list of reference captions, or list of lists of references (same count per prediction).
    smooth_method: sacrebleu smoothing ("exp", "floor", "add-k", "none"). Default "exp".
    tokenize: sacrebleu tokenizer. Default "13a".
    lowercase: lowercase before scoring. Default False.
Returns:
    bleu4: corpus BLEU-4 in [0, 1]; precisions: the 1- to 4-gram precisions in [0, 1]; brevity_penalty;
    length_ratio; translation_length; reference_length.
Examples:
    >>> bleu = evaluate.load("evaluation_slip/metrics/bleu4")
    >>> bleu.compute(predictions=["the cat sat on the mat"], references=["the cat sat on the mat"])["bleu4"]
    1.0
"""


def _reference_streams(references: list) -> list[list[str]]:
    """sacrebleu wants one stream per reference position: transpose per-prediction reference lists."""
    nested = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
    counts = {len(refs) for refs in nested}
    if len(counts) != 1 or 0 in counts:
        raise ValueError(
            f"every prediction needs the same (non-zero) number of references, got counts {sorted(counts)}."
        )
    return [list(stream) for stream in zip(*nested)]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Bleu4(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Post, A Call for Clarity in Reporting BLEU Scores, WMT 2018.",
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

    def _compute(self, predictions, references, smooth_method="exp", tokenize="13a", lowercase=False):
        score = sacrebleu.corpus_bleu(
            list(predictions),
            _reference_streams(references),
            smooth_method=smooth_method,
            tokenize=tokenize,
            lowercase=lowercase,
        )
        return {
            "bleu4": score.score / 100.0,
            "precisions": [p / 100.0 for p in score.precisions],
            "brevity_penalty": score.bp,
            "length_ratio": score.ratio,
            "translation_length": score.sys_len,
            "reference_length": score.ref_len,
        }
