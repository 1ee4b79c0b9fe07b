"""`model(**processor(...))` for the input forms users bring: a pandas DataFrame at 1 min, a 50 Hz 6-channel
numpy batch, and a list of series of different lengths and channel counts."""

import numpy as np
import pandas as pd
import pytest
import torch

from modeling_slip import SlipConfig, SlipForConditionalGeneration, SlipModel
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer

CAPTIONS = ["heart rate rises after lunch", "a person walking upstairs", "temperature falls overnight"]


@pytest.fixture(scope="module")
def processor() -> SlipProcessor:
    tokenizer = train_caption_tokenizer(CAPTIONS * 4, vocab_size=300, min_frequency=1)
    return SlipProcessor(SlipFeatureExtractor(), tokenizer)


@pytest.fixture(scope="module")
def model() -> SlipForConditionalGeneration:
    torch.manual_seed(0)
    return SlipForConditionalGeneration(SlipConfig.from_preset("tiny")).eval()


def _dataframe() -> pd.DataFrame:
    index = pd.date_range("2024-03-01", periods=300, freq="1min")
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"heart_rate": 70 + rng.standard_normal(300), "steps": rng.poisson(3, 300)}, index=index
    )


def _inputs(kind: str):
    rng = np.random.default_rng(1)
    if kind == "dataframe":
        return [_dataframe()] * 3, None
    if kind == "imu_50hz":
        return rng.standard_normal((3, 6, 256)).astype(np.float32), "50Hz"
    series = [rng.standard_normal((1, 90)), rng.standard_normal((3, 400)), rng.standard_normal((2, 1500))]
    series[1][0, 10:20] = np.nan
    return series, ["10Hz", "1s", "5min"]


@pytest.mark.parametrize("kind", ["dataframe", "imu_50hz", "ragged"])
def test_model_runs_on_processor_output(processor, model, kind):
    series, freq = _inputs(kind)
    batch = processor(series=series, freq=freq, text=CAPTIONS, return_tensors="pt")
    with torch.no_grad():
        output = model(**batch)
    assert torch.isfinite(output.loss) and torch.isfinite(output.contrastive_loss)
    assert output.logits.shape[:2] == batch["input_ids"].shape
    assert output.sensor_embeds.shape == (3, model.config.projection_dim)

    dual = SlipModel(model.config).eval()
    sensor_inputs = processor(series=series, freq=freq, return_tensors="pt")
    features = dual.get_mean_token_features(**sensor_inputs)
    assert features.shape == (3, model.config.sensor_config.hidden_size) and torch.isfinite(features).all()


def test_dataframe_index_gives_the_frequency(processor):
    from_index = processor(series=_dataframe(), return_tensors="pt")
    explicit = processor(series=_dataframe().to_numpy().T, freq="1min", return_tensors="pt")
    for key in ("sensor_values", "sensor_mask", "sensor_time", "patch_size"):
        torch.testing.assert_close(from_index[key], explicit[key])
