"""The sensor side exports: torch.export with dynamic axes, torch.compile(fullgraph=True), and ONNX run in
onnxruntime, each matching eager PyTorch on batches that mix lengths, channel counts and patch sizes."""

import numpy as np
import pytest
import torch

from modeling_slip import SlipConfig, SlipModel
from modeling_slip.export_onnx import main as export_onnx_main
from modeling_slip.export_onnx import max_difference_to_pytorch
from modeling_slip.sensor_export import SlipSensorFeatures, export_sensor_program
from modeling_slip.sensor_inputs import SENSOR_INPUT_KEYS
from processing_slip import SlipFeatureExtractor

EXTRACTOR = SlipFeatureExtractor(target_patches=4)


def processed(seed: int, shapes: list[tuple[int, int]], patch_sizes: list[int]) -> dict[str, torch.Tensor]:
    """Processor output for series of the given (channels, length) shapes, with mixed patch sizes."""
    rng = np.random.default_rng(seed)
    series = [rng.standard_normal(shape) for shape in shapes]
    return dict(EXTRACTOR(series, freq="50Hz", patch_size=patch_sizes, return_tensors="pt"))


BATCHES = [
    processed(0, [(2, 40), (1, 17), (3, 64)], [8, 4, 16]),
    processed(1, [(1, 9)], [3]),
    processed(2, [(4, 100), (2, 33), (1, 12), (3, 80), (2, 7)], [32, 8, 5, 16, 2]),
]


@pytest.fixture(scope="module")
def model() -> SlipModel:
    torch.manual_seed(0)
    return SlipModel(SlipConfig.from_preset("tiny")).eval()


def outputs(module, batch) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return module(*(batch[key] for key in SENSOR_INPUT_KEYS))


def test_torch_export_has_dynamic_axes_and_matches_eager(model):
    program = export_sensor_program(model)
    eager = SlipSensorFeatures(model)
    for batch in BATCHES:
        for exported, expected in zip(outputs(program.module(), batch), outputs(eager, batch)):
            torch.testing.assert_close(exported, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(outputs(eager, BATCHES[0])[0], model.get_sensor_features(**BATCHES[0]))


def test_compile_fullgraph_runs_the_sensor_side(model):
    # fullgraph=True fails on any graph break; the eager backend checks that one dynamic-shape graph captures the
    # whole sensor side, without the minutes of inductor code generation (benchmarks/bench_export.py runs inductor).
    compiled = torch.compile(SlipSensorFeatures(model), fullgraph=True, dynamic=True, backend="eager")
    eager = SlipSensorFeatures(model)
    for batch in BATCHES[:2]:
        for got, expected in zip(outputs(compiled, batch), outputs(eager, batch)):
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_onnx_export_matches_pytorch_in_onnxruntime(tmp_path, model, capsys):
    pytest.importorskip("onnxscript", reason="optional: pip install 'slip[onnx]'")
    pytest.importorskip("onnxruntime", reason="optional: pip install 'slip[onnx]'")
    model.save_pretrained(tmp_path / "model")
    export_onnx_main([str(tmp_path / "model"), str(tmp_path / "sensor.onnx")])
    assert "ONNX Runtime matches PyTorch" in capsys.readouterr().out
    for batch in BATCHES:
        assert max_difference_to_pytorch(tmp_path / "model", tmp_path / "sensor.onnx", batch) < 1e-4
