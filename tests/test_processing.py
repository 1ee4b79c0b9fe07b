import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoFeatureExtractor, AutoProcessor

from modeling_slip.configuration_slip import SlipConfig
from modeling_slip.sensor_inputs import SENSOR_INPUT_KEYS
from processing_slip import IGNORE_INDEX, SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer

CAPTIONS = [
    f"The {axis} acceleration of the {place} sensor {trend} from {i} to {i * 3} g with a spike at step {i * 7}."
    for i in range(60)
    for axis, place, trend in [("x", "wrist", "rises"), ("y", "hip", "falls"), ("z", "ankle", "stays flat")]
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_caption_tokenizer(CAPTIONS)


@pytest.fixture(scope="module")
def processor(tokenizer):
    return SlipProcessor(SlipFeatureExtractor(default_freq="50Hz"), tokenizer)


def test_tokenizer_uses_gemma_special_ids(tokenizer):
    assert (
        tokenizer.pad_token_id,
        tokenizer.eos_token_id,
        tokenizer.bos_token_id,
        tokenizer.unk_token_id,
    ) == (0, 1, 2, 3)
    assert tokenizer.convert_tokens_to_ids(["<start_of_turn>", "<end_of_turn>"]) == [4, 5]
    assert len(tokenizer) <= SlipConfig.from_preset("tiny").text_config.vocab_size == 4096
    ids = tokenizer("the wrist rises 42 ünïcode")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "the wrist rises 42 ünïcode"


def test_tokenizer_training_is_deterministic(tokenizer):
    again = train_caption_tokenizer(CAPTIONS)
    assert again.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    assert len(train_caption_tokenizer(CAPTIONS, vocab_size=300)) <= 300


@pytest.mark.parametrize("kwargs", [dict(texts=[]), dict(texts=[1, 2]), dict(texts=CAPTIONS, vocab_size=100)])
def test_tokenizer_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        train_caption_tokenizer(**kwargs)


def test_chat_template_is_gemma_style(tokenizer):
    rendered = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is it?"},
            {"role": "assistant", "content": [{"type": "text", "text": "walking"}]},
        ],
        tokenize=False,
        add_generation_prompt=False,
    )
    assert rendered == (
        "<bos><start_of_turn>user\nBe brief.\n\nWhat is it?<end_of_turn>\n<start_of_turn>model\nwalking<end_of_turn>\n"
    )


def test_captions_get_bos_and_eos_and_right_padding(processor, tokenizer):
    out = processor(text=["rises", "the wrist sensor falls quickly"], return_tensors="pt")
    assert set(out) == {"input_ids", "attention_mask"}
    ids, attention = out["input_ids"], out["attention_mask"]
    last = attention.sum(dim=1) - 1
    assert (ids[:, 0] == tokenizer.bos_token_id).all()
    assert (ids[torch.arange(2), last] == tokenizer.eos_token_id).all()
    assert attention[0].tolist() == sorted(attention[0].tolist(), reverse=True)
    assert (ids[attention == 0] == tokenizer.pad_token_id).all()
    assert processor.batch_decode(ids) == ["rises", "the wrist sensor falls quickly"]


def test_caption_max_length(processor, tokenizer):
    with pytest.raises(ValueError, match="truncation=True"):
        processor(text="the wrist sensor falls quickly", max_length=4)
    cut = processor(
        text=["the wrist sensor falls quickly", "x"], max_length=4, truncation=True, padding="max_length"
    )
    assert [len(ids) for ids in cut["input_ids"]] == [4, 4]
    assert cut["input_ids"][0][-1] == tokenizer.eos_token_id


def test_caption_lengths_count_what_the_processor_encodes(processor):
    texts = ["the wrist sensor falls quickly", "x", ""]
    encoded = processor(text=texts, padding=False)
    assert processor.caption_lengths(texts) == [len(ids) for ids in encoded["input_ids"]]


def test_finetuning_labels_mask_prompt_and_padding(processor, tokenizer):
    prompts = ["What is the person doing?", [{"role": "user", "content": "Describe the signal."}]]
    answers = ["walking", "it rises from 1 to 3 g"]
    out = processor(prompts=prompts, answers=answers, return_tensors="pt")
    ids, attention, labels = out["input_ids"], out["attention_mask"], out["labels"]
    assert ids.shape == labels.shape == attention.shape
    assert (labels[attention == 0] == IGNORE_INDEX).all()
    end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    for row, answer in enumerate(answers):
        supervised = labels[row] != IGNORE_INDEX
        positions = supervised.nonzero().flatten()
        assert (positions == torch.arange(positions[0], positions[-1] + 1)).all()
        assert (labels[row][supervised] == ids[row][supervised]).all()
        target = labels[row][supervised].tolist()
        assert target[-2:] == [end_of_turn, tokenizer.eos_token_id]
        assert tokenizer.decode(target[:-2]) == answer
        prompt = tokenizer.decode(ids[row][: positions[0]])
        assert prompt.startswith("<bos><start_of_turn>user\n") and prompt.endswith(
            "<end_of_turn>\n<start_of_turn>model\n"
        )
    assert attention[attention.sum(dim=1).argmin(), -1] == 0 and attention[:, 0].all()


def test_generation_prompts_are_left_padded(processor, tokenizer):
    out = processor(prompts=["What?", "Describe the wrist sensor signal in detail."], return_tensors="pt")
    assert set(out) == {"input_ids", "attention_mask"}
    ids, attention = out["input_ids"], out["attention_mask"]
    assert attention[0, 0] == 0 and attention[:, -1].all()
    opening = tokenizer("<start_of_turn>model\n", add_special_tokens=False)["input_ids"]
    assert ids[:, -len(opening) :].tolist() == [opening, opening]
    first = attention.argmax(dim=1)
    assert (ids[torch.arange(2), first] == tokenizer.bos_token_id).all()


def test_series_and_text_together(processor):
    rng = np.random.default_rng(0)
    out = processor(
        rng.normal(size=(2, 6, 100)), text=["walking", "sitting"], freq="50Hz", return_tensors="pt"
    )
    assert set(out) == {*SENSOR_INPUT_KEYS, "input_ids", "attention_mask"}
    assert out["sensor_values"].shape[:2] == (2, 6) and out["input_ids"].shape[0] == 2
    sft = processor(rng.normal(size=(1, 100)), prompts="What is it?", answers="walking", return_tensors="pt")
    assert set(sft) == {*SENSOR_INPUT_KEYS, "input_ids", "attention_mask", "labels"}
    series_only = processor([rng.normal(size=50), rng.normal(size=80)], return_tensors="pt")
    assert set(series_only) == set(SENSOR_INPUT_KEYS)
    frame = pd.DataFrame(rng.normal(size=(300, 2)), index=pd.date_range("2024", periods=300, freq="1min"))
    stats = processor(frame, text="rises", return_tensors="pt", return_normalization_stats=True)
    assert stats["channel_names"] == [["0", "1"]] and stats["sensor_scale"].shape == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(series=np.ones((2, 1, 10)), text=["a"]), "2 series but 1 texts"),
        (dict(series=np.ones((3, 10)), text=["a", "b"]), "1 series but 2 texts"),
        (dict(series=np.ones((2, 1, 10)), prompts=["a", "b", "c"]), "2 series but 3 texts"),
        (dict(text="a", prompts="b"), "not both"),
        (dict(text="a", answers="b"), "answers= needs prompts="),
        (dict(), "Pass series="),
        (dict(prompts=["a", "b"], answers=["c"]), "2 prompts but 1 answers"),
        (dict(prompts="a" * 50, max_length=5), "more than max_length=5"),
        (dict(text=[]), "non-empty list"),
        (dict(text=[1]), "list of strings"),
        (dict(prompts=[{"role": "user"}]), "prompt 0 must be"),
        (dict(text="a", channel_names=["x"]), "only apply together with series="),
        (dict(series=np.zeros((0, 2, 5)), text=["a"]), "holds no samples; pass at least one sample"),
        (
            dict(series=[np.ones(10), np.full(10, np.nan)], text=["a", "b"]),
            r"sample 1 has no observed value \(all NaN\); drop it",
        ),
        (
            dict(series=pd.DataFrame({"z": [1 + 2j, 3.0]}), text="a"),
            r"sample 0, columns \['z'\]: complex numbers are not accepted",
        ),
        (dict(series=np.ones(10), text="a", freq="-5min"), "positive, finite step"),
    ],
)
def test_bad_calls_raise(processor, kwargs, message):
    with pytest.raises(ValueError, match=message):
        processor(**kwargs)


def test_channel_names_pass_through_as_strings(processor):
    out = processor(np.ones((3, 20)), text="rises", channel_names=[1, 2, 3], return_normalization_stats=True)
    assert out["channel_names"] == [["1", "2", "3"]]


def test_round_trip_through_auto_processor(processor, tmp_path):
    series = np.random.default_rng(1).normal(size=(2, 3, 90))
    expected = processor(series, text=["rises", "falls"], return_tensors="pt")

    processor_only = tmp_path / "processor"
    processor.save_pretrained(processor_only)
    config = json.loads((processor_only / "processor_config.json").read_text())
    assert config["processor_class"] == "SlipProcessor"

    with_model_config = tmp_path / "model"
    processor.save_pretrained(with_model_config)
    SlipConfig.from_preset("tiny").save_pretrained(with_model_config)

    for directory in (processor_only, with_model_config):
        loaded = AutoProcessor.from_pretrained(directory)
        assert isinstance(loaded, SlipProcessor) and isinstance(
            loaded.feature_extractor, SlipFeatureExtractor
        )
        assert loaded.feature_extractor.to_dict() == processor.feature_extractor.to_dict()
        got = loaded(series, text=["rises", "falls"], return_tensors="pt")
        for key, value in expected.items():
            assert torch.equal(got[key], value), key
        assert loaded(prompts="What?")["input_ids"] == processor(prompts="What?")["input_ids"]
    assert isinstance(AutoFeatureExtractor.from_pretrained(with_model_config), SlipFeatureExtractor)


def test_processor_chat_template_overrides_the_tokenizer(tokenizer):
    template = "{% for m in messages %}Q: {{ m['content'] }}\n{% endfor %}A:"
    custom = SlipProcessor(SlipFeatureExtractor(), tokenizer, chat_template=template)
    ids = custom(prompts="hi")["input_ids"][0]
    assert tokenizer.decode(ids) == "Q: hi\nA:"


def test_decode_keeps_special_tokens_on_request(processor, tokenizer):
    ids = processor(text="rises")["input_ids"][0]
    assert processor.decode(ids) == "rises"
    assert processor.decode(ids, skip_special_tokens=False) == "<bos>rises<eos>"
