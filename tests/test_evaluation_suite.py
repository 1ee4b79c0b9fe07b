"""The evaluation protocol of one classification set, end to end and quiet: a tiny random SLIP model on
BasicMotions with the random-init and statistical baselines raises none of the project's warnings, and none of
scikit-learn's convergence or metric warnings (each would be a wall of lines in the main job's console)."""

import numpy as np
import pytest
import torch

from evaluation_slip.report import ResultsTable
from evaluation_slip.suite import evaluate_classification_set
from hub_datasets import zero_shot_prompts
from modeling_slip import SlipConfig, SlipModel
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer

pytestmark = [
    pytest.mark.filterwarnings(f"error::{category}")
    for category in (
        "processing_slip.frequency.DefaultFrequencyWarning",
        "processing_slip.frequency.IrregularSamplingWarning",
        "processing_slip.patch_policy.TruncationWarning",
        "hub_datasets.sources.base.MissingSourceWarning",
        "hub_datasets.export.UnverifiedExportWarning",
        "sklearn.exceptions.ConvergenceWarning",
        "sklearn.exceptions.UndefinedMetricWarning",
    )
] + [pytest.mark.filterwarnings("error:y_pred contains classes not in y_true:UserWarning")]


@pytest.fixture(scope="module")
def tiny_model_and_processor():
    torch.manual_seed(0)
    model = SlipModel(SlipConfig.from_preset("tiny")).eval()
    prompts = [prompt for templates in zero_shot_prompts("basic_motions").values() for prompt in templates]
    tokenizer = train_caption_tokenizer(prompts * 2, vocab_size=300, min_frequency=1)
    feature_extractor = SlipFeatureExtractor(max_patch_size=model.config.sensor_config.max_patch_size)
    return model, SlipProcessor(feature_extractor, tokenizer)


def test_basic_motions_protocol_runs_without_warnings(tiny_model_and_processor, tmp_path):
    model, processor = tiny_model_and_processor
    table = ResultsTable()
    evaluation = evaluate_classification_set(
        model,
        processor,
        "basic_motions",
        table,
        baselines=("random_init", "statistical"),
        cache_dir=str(tmp_path),
        show_progress=False,
    )
    assert set(evaluation.results) == {
        "SLIP linear probe",
        "random-init encoder probe",
        "statistical features + LR",
        "SLIP zero-shot",
    }
    for method in ("SLIP linear probe", "random-init encoder probe", "statistical features + LR"):
        result = evaluation.results[method]
        assert len(result.seeds) == 5 and result.num_test == 40, method
        assert all(0.0 <= mean <= 1.0 for mean, _ in result.summary().values()), method
    # per-channel statistics separate BasicMotions' four movements almost perfectly
    assert evaluation.results["statistical features + LR"].summary()["accuracy"][0] > 0.9
    assert evaluation.zero_shot is not None and evaluation.zero_shot.confusion_matrix.sum() == 40
    assert np.isfinite([row.mean for row in table.rows]).all()


def test_baselines_are_read_back_from_the_cache(tiny_model_and_processor, tmp_path, monkeypatch):
    """A second run (another pretrained model of the same architecture) reuses the baselines, bit for bit; a
    different architecture does not."""
    model, processor = tiny_model_and_processor
    options = dict(baselines=("random_init", "statistical"), cache_dir=str(tmp_path), show_progress=False)
    first = evaluate_classification_set(model, processor, "basic_motions", ResultsTable(), **options)
    assert len(list((tmp_path / "slip_baselines").glob("*.json"))) == 2

    def not_again(*args, **kwargs):
        raise AssertionError("a cached baseline was recomputed")

    monkeypatch.setattr("evaluation_slip.suite.statistical_baseline", not_again)
    monkeypatch.setattr("evaluation_slip.suite.random_init_like", not_again)
    trained = SlipModel(model.config).eval()  # other weights, same architecture
    second = evaluate_classification_set(trained, processor, "basic_motions", ResultsTable(), **options)
    for method in ("random-init encoder probe", "statistical features + LR"):
        assert second.results[method].to_dict() == first.results[method].to_dict(), method
    wider = SlipModel(SlipConfig.from_preset("tiny", pooler_num_heads=2)).eval()
    with pytest.raises(AssertionError, match="recomputed"):
        evaluate_classification_set(wider, processor, "basic_motions", ResultsTable(), **options)
