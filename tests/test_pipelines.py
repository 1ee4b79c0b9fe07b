"""The SLIP pipelines: equal to the manual model path, the same batched and one by one, every input form, and
clear errors for bad input."""

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModel, AutoProcessor, pipeline
from transformers.pipelines import PIPELINE_REGISTRY

import slip  # noqa: F401  (registers the pipelines)
from modeling_slip import SlipForConditionalGeneration, SlipModel
from modeling_slip.configuration_slip import tiny_text_config
from processing_slip import SlipProcessor
from processing_slip.prompt_ensembles import DEFAULT_HYPOTHESIS_TEMPLATE
from slip.pipelines import FEATURE_EXTRACTION_TASK, TEXT_TASK, ZERO_SHOT_TASK
from training_fixtures import caption_rows, tiny_model, tiny_processor

FREQ = "10Hz"
LABELS = ["walking", "sitting", "lying down"]
# Lengths and channel counts differ so that batches need padding in every tensor dimension.
SHAPES = ((3, 120), (1, 40), (2, 300), (3, 75), (1, 23), (2, 64))
# Few new tokens keep generation fast; batching differences would show in the first ones already.
NEW_TOKENS = 6


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny CoCa model and its processor saved once; the text vocabulary matches the tokenizer so captions
    decode to text."""
    processor = tiny_processor(caption_rows(32))
    model = tiny_model(text_config=tiny_text_config(vocab_size=len(processor.tokenizer))).eval()
    path = tmp_path_factory.mktemp("pipelines") / "tiny"
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def classifier(checkpoint):
    return pipeline(ZERO_SHOT_TASK, model=checkpoint, device="cpu")


@pytest.fixture(scope="module")
def extractor(checkpoint):
    return pipeline(FEATURE_EXTRACTION_TASK, model=checkpoint, device="cpu")


@pytest.fixture(scope="module")
def captioner(checkpoint):
    return pipeline(TEXT_TASK, model=checkpoint, device="cpu", max_new_tokens=NEW_TOKENS)


@pytest.fixture
def ragged():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]


def _long_frame(series: list[np.ndarray], ids: list[str]) -> pd.DataFrame:
    """The series as one long frame (3 value columns, missing channels NaN), rows shuffled."""
    parts = []
    for key, values in zip(ids, series):
        columns = {f"c{i}": values[i] if i < len(values) else np.nan for i in range(3)}
        stamps = pd.date_range("2024-01-01", periods=values.shape[1], freq="100ms")
        parts.append(pd.DataFrame({"id": key, "timestamp": stamps, **columns}))
    return pd.concat(parts).sample(frac=1.0, random_state=0)


def _frame(values: np.ndarray) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=values.shape[1], freq="100ms")
    return pd.DataFrame(values.T, index=index, columns=[f"c{i}" for i in range(len(values))])


# Loading


def test_tasks_are_registered_and_load_the_right_classes(classifier, extractor, captioner):
    assert {ZERO_SHOT_TASK, FEATURE_EXTRACTION_TASK, TEXT_TASK} <= set(
        PIPELINE_REGISTRY.get_supported_tasks()
    )
    assert type(classifier.model) is SlipModel and type(extractor.model) is SlipModel
    assert type(captioner.model) is SlipForConditionalGeneration
    for pipe in (classifier, extractor, captioner):
        assert isinstance(pipe.processor, SlipProcessor)
        assert pipe.tokenizer is pipe.processor.tokenizer
        assert not pipe.model.training


def test_components_instead_of_a_processor(checkpoint):
    processor = AutoProcessor.from_pretrained(checkpoint)
    model = AutoModel.from_pretrained(checkpoint)
    pipe = pipeline(
        FEATURE_EXTRACTION_TASK,
        model=model,
        feature_extractor=processor.feature_extractor,
        tokenizer=processor.tokenizer,
        device="cpu",
    )
    assert isinstance(pipe.processor, SlipProcessor)
    with pytest.raises(ValueError, match="needs a model that generates"):
        pipeline(TEXT_TASK, model=model, processor=processor, device="cpu")


# Zero-shot classification


def _manual_scores(model, processor, series, prompts_per_label):
    """CLIP's recipe by hand: cosine of sensor and (ensembled) class embeddings, scaled, softmax."""
    with torch.no_grad():
        sensor = model.get_sensor_features(**processor(series, freq=FREQ, return_tensors="pt"))
        classes = []
        for prompts in prompts_per_label:
            text = model.get_text_features(**processor(text=prompts, return_tensors="pt"))
            mean = torch.nn.functional.normalize(text, dim=-1).mean(dim=0)
            classes.append(torch.nn.functional.normalize(mean, dim=-1))
        logits = model.scaled_logit_scale() * sensor @ torch.stack(classes).T
    return logits.softmax(dim=-1).numpy()


def _as_matrix(results, labels):
    return np.array(
        [[{r["label"]: r["score"] for r in result}[label] for label in labels] for result in results]
    )


def test_zero_shot_equals_the_manual_cosine_path(checkpoint, classifier, ragged):
    model = AutoModel.from_pretrained(checkpoint).eval()
    processor = AutoProcessor.from_pretrained(checkpoint)
    expected = _manual_scores(
        model, processor, ragged, [[DEFAULT_HYPOTHESIS_TEMPLATE.format(x)] for x in LABELS]
    )
    results = classifier(ragged, freq=FREQ, candidate_labels=LABELS)
    assert len(results) == len(ragged)
    for result, row in zip(results, expected):
        assert [r["label"] for r in result] == [LABELS[i] for i in np.argsort(-row, kind="stable")]
        scores = [r["score"] for r in result]
        assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0)
    np.testing.assert_allclose(_as_matrix(results, LABELS), expected, rtol=1e-5, atol=1e-6)


def test_zero_shot_prompt_ensembles(checkpoint, classifier, ragged):
    model = AutoModel.from_pretrained(checkpoint).eval()
    processor = AutoProcessor.from_pretrained(checkpoint)
    prompts = {
        "walking": ["a person walking", "someone walks quickly"],
        "sitting": ["a person sitting"],
        "lying down": ["a person lying down", "lying in bed", "the wearer rests"],
    }
    expected = _manual_scores(model, processor, ragged[:3], list(prompts.values()))
    by_dict = classifier(ragged[:3], freq=FREQ, hypothesis_template=prompts)
    np.testing.assert_allclose(_as_matrix(by_dict, LABELS), expected, rtol=1e-5, atol=1e-6)
    subset = classifier(
        ragged[0], freq=FREQ, candidate_labels=["sitting", "walking"], hypothesis_template=prompts
    )
    assert {r["label"] for r in subset} == {"sitting", "walking"}

    templates = ["a person {}", "the wearer is {}"]
    by_list = classifier(ragged[:3], freq=FREQ, candidate_labels=LABELS, hypothesis_template=templates)
    spelled_out = {label: [t.format(label) for t in templates] for label in LABELS}
    expected = _manual_scores(model, processor, ragged[:3], list(spelled_out.values()))
    np.testing.assert_allclose(_as_matrix(by_list, LABELS), expected, rtol=1e-5, atol=1e-6)


def test_zero_shot_batched_equals_one_by_one(classifier, ragged):
    one = classifier(ragged, freq=FREQ, candidate_labels=LABELS, batch_size=1)
    four = classifier(ragged, freq=FREQ, candidate_labels=LABELS, batch_size=4)
    assert [[r["label"] for r in result] for result in one] == [
        [r["label"] for r in result] for result in four
    ]
    np.testing.assert_allclose(_as_matrix(one, LABELS), _as_matrix(four, LABELS), rtol=1e-5, atol=1e-6)
    single = classifier(ragged[2], freq=FREQ, candidate_labels=LABELS)
    assert [r["label"] for r in single] == [r["label"] for r in one[2]]


def test_zero_shot_bad_input(classifier, ragged):
    with pytest.raises(ValueError, match="candidate_labels"):
        classifier(ragged[0], freq=FREQ)
    with pytest.raises(ValueError, match="non-empty list"):
        classifier(ragged[0], freq=FREQ, candidate_labels=[])
    with pytest.raises(ValueError, match="more than once"):
        classifier(ragged[0], freq=FREQ, candidate_labels=["a", "a"])
    with pytest.raises(ValueError, match="placeholder"):
        classifier(ragged[0], freq=FREQ, candidate_labels=LABELS, hypothesis_template="no label here")
    with pytest.raises(ValueError, match="no prompt templates"):
        classifier(ragged[0], freq=FREQ, candidate_labels=["running"], hypothesis_template={"walking": ["x"]})
    with pytest.raises(ValueError, match="empty list"):
        classifier([], freq=FREQ, candidate_labels=LABELS)
    with pytest.raises(ValueError, match="Unexpected arguments"):
        classifier(ragged[0], freq=FREQ, candidate_labels=LABELS, frequency="10Hz")


# Feature extraction


def test_features_equal_the_model_methods(checkpoint, extractor, ragged):
    model = AutoModel.from_pretrained(checkpoint).eval()
    processor = AutoProcessor.from_pretrained(checkpoint)
    with torch.no_grad():
        inputs = processor(ragged[0], freq=FREQ, return_tensors="pt")
        embedding = model.get_sensor_features(**inputs)[0].numpy()
        mean = model.get_mean_token_features(**inputs)[0].numpy()
        tokens = model.sensor_model(**inputs)
    np.testing.assert_allclose(extractor(ragged[0], freq=FREQ), embedding, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(extractor(ragged[0], freq=FREQ, pooling="mean"), mean, rtol=1e-5, atol=1e-6)
    own = extractor(ragged[0], freq=FREQ, return_tokens=True)
    channels, patches = own["token_mask"].shape
    assert channels == 3 and patches * int(inputs["patch_size"][0]) >= 120
    np.testing.assert_allclose(
        own["last_hidden_state"].reshape(channels * patches, -1), tokens.last_hidden_state[0], atol=1e-5
    )
    np.testing.assert_array_equal(own["token_mask"].reshape(-1), tokens.token_mask[0])


@pytest.mark.parametrize("options", [{}, {"pooling": "mean"}, {"return_tokens": True}])
def test_features_batched_equal_one_by_one(extractor, ragged, options):
    one = extractor(ragged, freq=FREQ, batch_size=1, **options)
    four = extractor(ragged, freq=FREQ, batch_size=4, **options)
    assert len(one) == len(four) == len(ragged)
    for a, b, series in zip(one, four, ragged):
        if options.get("return_tokens"):
            assert a["last_hidden_state"].shape == b["last_hidden_state"].shape
            assert a["token_mask"].shape[0] == series.shape[0]
            np.testing.assert_array_equal(a["token_mask"], b["token_mask"])
            a, b = a["last_hidden_state"], b["last_hidden_state"]
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_features_return_tensors_and_dtype(checkpoint, extractor, ragged):
    as_numpy = extractor(ragged[1], freq=FREQ)
    as_torch = extractor(ragged[1], freq=FREQ, return_tensors=True)
    assert isinstance(as_numpy, np.ndarray) and as_numpy.shape == (extractor.model.config.projection_dim,)
    assert isinstance(as_torch, torch.Tensor)
    np.testing.assert_array_equal(as_torch.numpy(), as_numpy)
    tokens = extractor(ragged[1], freq=FREQ, return_tokens=True, return_tensors="pt")
    assert tokens["token_mask"].dtype == torch.bool
    half = pipeline(FEATURE_EXTRACTION_TASK, model=checkpoint, device="cpu", dtype=torch.bfloat16)
    assert half.model.dtype == torch.bfloat16
    assert half(ragged[1], freq=FREQ, return_tensors="pt").dtype == torch.bfloat16
    # bfloat16 keeps about 3 significant digits; the unit-norm embedding agrees to that.
    np.testing.assert_allclose(half(ragged[1], freq=FREQ), as_numpy, atol=0.05)
    with pytest.raises(ValueError, match="pooling"):
        extractor(ragged[1], freq=FREQ, pooling="max")
    with pytest.raises(ValueError, match="return_tensors"):
        extractor(ragged[1], freq=FREQ, return_tensors="tf")


# Input forms


def test_every_series_form(extractor, ragged):
    reference = extractor(ragged[0], freq=FREQ)
    assert extractor(torch.from_numpy(ragged[0]), freq=FREQ).shape == reference.shape
    np.testing.assert_allclose(extractor(torch.from_numpy(ragged[0]), freq=FREQ), reference, atol=1e-6)
    np.testing.assert_allclose(extractor(_frame(ragged[0])), reference, atol=1e-6)
    # A list of numbers is one series; a list of lists is a batch, one series per inner list.
    per_row = extractor(ragged[0].tolist(), freq=FREQ)
    assert isinstance(per_row, list) and len(per_row) == 3
    np.testing.assert_allclose(per_row[2], extractor(ragged[0][2], freq=FREQ), atol=1e-6)
    one_channel = extractor(ragged[1][0], freq=FREQ)
    np.testing.assert_allclose(extractor(ragged[1][0].tolist(), freq=FREQ), one_channel, atol=1e-6)
    series = pd.Series(ragged[1][0], index=_frame(ragged[1]).index, name="c0")
    np.testing.assert_allclose(extractor(series), one_channel, atol=1e-6)

    stacked = np.stack([ragged[0], ragged[0] * 2])
    from_array = extractor(stacked, freq=FREQ)
    assert isinstance(from_array, list) and len(from_array) == 2
    np.testing.assert_allclose(from_array[0], reference, atol=1e-6)
    mixed = extractor(
        [ragged[0], torch.from_numpy(ragged[1]), _frame(ragged[2]), ragged[3][0].tolist()], freq=FREQ
    )
    assert isinstance(mixed, list) and len(mixed) == 4
    np.testing.assert_allclose(mixed[0], reference, atol=1e-6)
    streamed = list(extractor((s for s in ragged[:3]), freq=FREQ, batch_size=2))
    np.testing.assert_allclose(np.stack(streamed), np.stack(extractor(ragged[:3], freq=FREQ)), atol=1e-6)


def test_per_series_options(extractor, ragged):
    freqs = ["10Hz", "1min", "50Hz"]
    together = extractor(ragged[:3], freq=freqs, batch_size=2)
    for series, freq, result in zip(ragged[:3], freqs, together):
        np.testing.assert_allclose(result, extractor(series, freq=freq), rtol=1e-5, atol=1e-6)
    names = [["x", "y", "z"], ["x"]]
    assert len(extractor(ragged[:2], freq=FREQ, channel_names=names)) == 2
    with pytest.raises(ValueError, match="freq has 2 entries for 3 series"):
        extractor(ragged[:3], freq=["10Hz", "1min"])
    with pytest.raises(ValueError, match="dimensions"):
        extractor(np.zeros((1, 1, 2, 8)), freq=FREQ)


def test_long_format_equals_the_per_id_frames(extractor, classifier, ragged):
    ids = ["walk-1", "sit-7", "run-3", "lie-2"]
    long = _long_frame(ragged[:4], ids)
    by_id = extractor(long, batch_size=3)
    first_seen = list(dict.fromkeys(long["id"]))
    assert list(by_id) == first_seen
    frames = [
        long[long["id"] == key].set_index("timestamp").sort_index()[["c0", "c1", "c2"]] for key in first_seen
    ]
    for key, features in zip(first_seen, extractor(frames, batch_size=1)):
        np.testing.assert_allclose(by_id[key], features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(by_id["walk-1"], extractor(_frame(ragged[0])), rtol=1e-5, atol=1e-6)
    labelled = classifier(long, candidate_labels=LABELS)
    assert list(labelled) == first_seen and all(len(result) == len(LABELS) for result in labelled.values())
    renamed = long.rename(columns={"id": "item_id", "timestamp": "time"})
    again = extractor(renamed, id_column="item_id", timestamp_column="time")
    np.testing.assert_allclose(np.stack(list(again.values())), np.stack(list(by_id.values())), atol=1e-6)


def test_long_format_bad_frames(extractor, ragged):
    long = _long_frame(ragged[:2], ["a", "b"])
    with pytest.raises(ValueError, match="no columns"):
        extractor(long.drop(columns="timestamp"))
    with pytest.raises(ValueError, match="not numeric"):
        extractor(long.assign(c1="high"))
    with pytest.raises(ValueError, match="more than one row"):
        extractor(pd.concat([long, long.iloc[:1]]))
    with pytest.raises(ValueError, match="holds numbers"):
        extractor(long.assign(timestamp=np.arange(len(long))))


# Text


def test_text_batched_equals_one_by_one(captioner, ragged):
    one = captioner(ragged, freq=FREQ, batch_size=1)
    four = captioner(ragged, freq=FREQ, batch_size=4)
    assert one == four and len(one) == len(ragged)
    assert all(isinstance(result[0]["generated_text"], str) for result in one)
    assert any(result[0]["generated_text"] for result in one)
    questions = ["what happens?", "is the person walking or sitting?", "a", "how many spikes?", "b", "when?"]
    answers_one = captioner(ragged, freq=FREQ, prompt=questions, batch_size=1)
    answers_four = captioner(ragged, freq=FREQ, prompt=questions, batch_size=4)
    assert answers_one == answers_four
    assert captioner(ragged[3], freq=FREQ, prompt=questions[3]) == answers_one[3]


def test_text_equals_generate_without_the_prompt(checkpoint, captioner, ragged):
    model = SlipForConditionalGeneration.from_pretrained(checkpoint).eval()
    processor = AutoProcessor.from_pretrained(checkpoint)
    inputs = processor(ragged[0], freq=FREQ, prompts="what happens?", return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=NEW_TOKENS)
    expected = processor.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    assert captioner(ragged[0], freq=FREQ, prompt="what happens?") == [{"generated_text": expected}]
    short = model.generate(**processor(ragged[0], freq=FREQ, return_tensors="pt"), max_new_tokens=2)
    caption = processor.decode(short[0, 1:], skip_special_tokens=True).strip()
    assert captioner(ragged[0], freq=FREQ, generate_kwargs={"max_new_tokens": 2}) == [
        {"generated_text": caption}
    ]


def test_text_bad_input(captioner, ragged):
    with pytest.raises(ValueError, match="prompt has 2 entries for 3 series"):
        captioner(ragged[:3], freq=FREQ, prompt=["a", "b"])
    with pytest.raises(ValueError, match="prompt has 2 entries for 1 series"):
        captioner(ragged[0], freq=FREQ, prompt=["a", "b"])
    with pytest.raises(ValueError, match="both directly and in generate_kwargs"):
        captioner(ragged[0], freq=FREQ, max_new_tokens=2, generate_kwargs={"max_new_tokens": 3})


# Progress


def test_many_series_show_one_progress_bar(extractor, capsys):
    rng = np.random.default_rng(1)
    many = [rng.standard_normal(16).astype(np.float32) for _ in range(1000)]
    results = extractor(many, freq=FREQ, batch_size=250)
    assert len(results) == 1000
    bar = capsys.readouterr().err
    assert "1000/1000" in bar and bar.count("\n") == 1
    extractor(many[:10], freq=FREQ, batch_size=4, progress_bar=False)
    assert capsys.readouterr().err == ""
