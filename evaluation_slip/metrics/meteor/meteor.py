"""Mean sentence-level METEOR (nltk, WordNet synonyms); an offline local `evaluate` module.

WordNet must be on nltk's data path. Offline it comes from Debian's `wordnet-base` and `wordnet-sense-index`
packages; `scripts/install_wordnet.sh` installs them and lays them out for nltk.
"""

import datasets
import evaluate
from nltk.corpus import wordnet
from nltk.tokenize import wordpunct_tokenize
from nltk.translate.meteor_score import meteor_score

_DESCRIPTION = """METEOR (Banerjee & Lavie 2005) per prediction from nltk, averaged over predictions. Texts are
lowercased and split with nltk's regex `wordpunct_tokenize` (no punkt model needed); several references give
the best match, as nltk does."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated captions.
    references: list of reference captions, or list of lists of references.
    alpha, beta, gamma: METEOR parameters (nltk defaults 0.9, 3.0, 0.5).
Returns:
    meteor: mean METEOR in [0, 1].
Examples:
    >>> meteor = evaluate.load("evaluation_slip/metrics/meteor")
    >>> round(meteor.compute(predictions=["the cat sat"], references=["the cat sat"])["meteor"], 2)
    0.98
"""

WORDNET_MISSING = (
    "METEOR needs WordNet on nltk's data path and none was found. Install it offline with "
    "`sudo scripts/install_wordnet.sh` (Debian packages wordnet-base + wordnet-sense-index, laid out as "
    "nltk_data/corpora/wordnet), or with internet `python -m nltk.downloader wordnet`."
)


def _tokens(text: str) -> list[str]:
    return wordpunct_tokenize(text.lower())


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Meteor(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Banerjee and Lavie, METEOR, ACL Workshop 2005.",
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

    def _download_and_prepare(self, dl_manager):
        try:
            wordnet.ensure_loaded()
        except LookupError as error:
            raise LookupError(WORDNET_MISSING) from error

    def _compute(self, predictions, references, alpha=0.9, beta=3.0, gamma=0.5):
        scores = [
            meteor_score(
                [_tokens(ref) for ref in ([refs] if isinstance(refs, str) else refs)],
                _tokens(prediction),
                alpha=alpha,
                beta=beta,
                gamma=gamma,
            )
            for prediction, refs in zip(predictions, references)
        ]
        if not scores:
            raise ValueError("meteor needs at least one prediction.")
        return {"meteor": sum(scores) / len(scores)}
