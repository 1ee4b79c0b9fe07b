"""Zero-shot classification and retrieval on hand-made embeddings with known answers."""

import numpy as np
import pytest
import torch
from transformers import BatchFeature

from evaluation_slip.retrieval import retrieval_recall
from evaluation_slip.zero_shot import class_embeddings, evaluate_zero_shot, zero_shot_classify

LABELS = ["walking", "sitting", "lying"]


def test_zero_shot_on_hand_made_embeddings():
    class_embeds = np.eye(3)
    sensors = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.0, 0.3, 0.7], [0.1, 0.0, 0.9], [0.6, 0.7, 0.0]])
    labels = [0, 1, 2, 2, 0]
    result = zero_shot_classify(sensors, labels, class_embeds, LABELS)
    np.testing.assert_array_equal(result.predictions, [0, 1, 2, 2, 1])
    assert result.metrics["accuracy"] == pytest.approx(0.8)
    assert result.metrics["balanced_accuracy"] == pytest.approx((0.5 + 1 + 1) / 3)
    np.testing.assert_array_equal(result.confusion_matrix, [[1, 1, 0], [0, 1, 0], [0, 0, 2]])
    assert result.chance_accuracy == pytest.approx(0.4)
    assert result.to_dict()["confusion_matrix"][0] == [1, 1, 0]


def test_zero_shot_rejects_mismatches():
    with pytest.raises(ValueError, match="class indices"):
        zero_shot_classify(np.eye(3), [0, 1, 3], np.eye(3), LABELS)
    with pytest.raises(ValueError, match="one p"):
        zero_shot_classify(np.eye(3), [0, 1, 2], np.eye(4)[:3, :4], LABELS)


class _KeywordProcessor:
    """Text -> one-hot over LABELS by keyword (index 3 for none); series pass through as (B, C, 1, T)."""

    def __call__(self, series=None, freq=None, text=None, return_tensors=None, padding=None):
        if text is not None:
            ids = torch.tensor([[next((i for i, k in enumerate(LABELS) if k in t), 3)] for t in text])
            return BatchFeature({"input_ids": ids, "attention_mask": torch.ones_like(ids)})
        values = torch.stack([torch.from_numpy(s) for s in series])[:, :, None, :]
        return BatchFeature(
            {
                "sensor_values": values,
                "sensor_mask": torch.ones_like(values, dtype=torch.bool),
                "sensor_time": torch.zeros_like(values),
                "patch_size": torch.full((len(series),), values.shape[-1]),
            }
        )


class _KeywordModel(torch.nn.Module):
    """Sensor embedding = one-hot of the series' mean level (0, 1, 2); text embedding = keyword one-hot."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def get_sensor_features(self, sensor_values, sensor_mask, sensor_time, patch_size):
        level = sensor_values.flatten(1).mean(1).round().long().clamp(0, 2)
        return torch.nn.functional.one_hot(level, 4).float() + 0.01 + self.anchor

    def get_text_features(self, input_ids, attention_mask):
        return torch.nn.functional.one_hot(input_ids[:, 0], 4).float() + 0.01


def test_evaluate_zero_shot_end_to_end_with_prompt_ensembles():
    templates = {
        "walking": ["a person walking", "someone is walking"],
        "sitting": ["a person sitting"],
        "lying": ["a person lying down", "lying in bed", "the wearer rests"],  # one off-topic prompt
    }
    model, processor = _KeywordModel(), _KeywordProcessor()
    embeds = class_embeddings(model, processor, templates, LABELS, show_progress=False)
    np.testing.assert_allclose(np.linalg.norm(embeds, axis=1), 1.0)
    series = [np.full((2, 8), level, dtype=np.float32) for level in (0, 1, 2, 2, 0, 1)]
    result = evaluate_zero_shot(
        model,
        processor,
        series,
        templates,
        label_names=LABELS,
        labels=[0, 1, 2, 2, 0, 0],
        freq="1Hz",
        show_progress=False,
    )
    assert result.metrics["accuracy"] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="no prompt templates"):
        class_embeddings(model, processor, {"walking": ["x"]}, LABELS)


def test_retrieval_recall_exact_values():
    # texts at 0, 90, 180, 270 degrees; sensors at 0, 170, 260, 350: pair 0 is exact, the others sit 10
    # degrees from the NEXT text and 80 from their own
    def unit(degrees):
        radians = np.deg2rad(degrees)
        return np.stack([np.cos(radians), np.sin(radians)], axis=1)

    recall = retrieval_recall(unit([0, 170, 260, 350]), unit([0, 90, 180, 270]), ks=(1, 2, 4))
    assert recall["sensor_to_text/R@1"] == pytest.approx(0.25)  # only sensor 0 ranks its text first
    assert recall["sensor_to_text/R@2"] == pytest.approx(1.0)
    assert recall["text_to_sensor/R@1"] == pytest.approx(0.5)  # texts 0 and 1; texts 2, 3 lose to a neighbour
    assert recall["text_to_sensor/R@2"] == pytest.approx(1.0)
    assert recall["text_to_sensor/R@4"] == pytest.approx(1.0)
    assert recall["num_distinct_texts"] == 4


def test_retrieval_merges_duplicate_captions():
    sensors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    texts = ["a walk", "a walk", "a rest"]
    text_embeddings = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    recall = retrieval_recall(sensors, text_embeddings, texts, ks=(1,))
    # without merging, sensor 1 would "miss" because its own copy of "a walk" ties with sensor 0's copy
    assert recall["sensor_to_text/R@1"] == 1.0
    assert recall["text_to_sensor/R@1"] == 1.0
    assert recall["num_distinct_texts"] == 2


def test_retrieval_ties_count_against_the_query():
    collapsed = np.ones((5, 3))
    recall = retrieval_recall(collapsed, collapsed, ks=(1, 5))
    assert recall["sensor_to_text/R@1"] == 0.0 and recall["text_to_sensor/R@1"] == 0.0
    assert recall["sensor_to_text/R@5"] == 1.0


def test_real_tiny_model_end_to_end():
    from evaluation_slip.baselines import random_init_like
    from evaluation_slip.features import extract_patch_features
    from evaluation_slip.retrieval import evaluate_retrieval
    from modeling_slip import SlipConfig, SlipModel
    from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer

    captions = ["a person walking", "a person sitting", "a person lying down", "the signal rises"]
    processor = SlipProcessor(SlipFeatureExtractor(default_freq="50Hz"), train_caption_tokenizer(captions))
    model = SlipModel(SlipConfig.from_preset("tiny"))
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(3, length)).astype(np.float32) for length in (64, 128, 100, 64, 200, 96)]

    by_length = extract_patch_features(
        model, processor, series, freq="50Hz", batch_size=2, show_progress=False
    )
    one_batch = extract_patch_features(
        model, processor, series, freq="50Hz", batch_size=6, sort_by_length=False, show_progress=False
    )
    np.testing.assert_allclose(by_length, one_batch, atol=1e-5)
    templates = {name: [f"a person {name}"] for name in ("walking", "sitting", "lying down")}
    result = evaluate_zero_shot(
        model,
        processor,
        series,
        templates,
        label_names=list(templates),
        labels=[0, 1, 2, 0, 1, 2],
        freq="50Hz",
        show_progress=False,
    )
    assert result.confusion_matrix.sum() == 6 and 0.0 <= result.metrics["accuracy"] <= 1.0
    recall = evaluate_retrieval(
        model, processor, series[:4], captions, freq="50Hz", ks=(1, 4), show_progress=False
    )
    assert recall["sensor_to_text/R@4"] == 1.0
    fresh = random_init_like(model, seed=1)
    random_features = extract_patch_features(fresh, processor, series, freq="50Hz", show_progress=False)
    assert random_features.shape == by_length.shape and not np.allclose(random_features, by_length)
