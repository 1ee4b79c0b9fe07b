"""Export the sensor side of a saved SLIP model to ONNX.

    python -m modeling_slip.export_onnx MODEL_DIR OUT.onnx

The graph (`sensor_export.SlipSensorFeatures`) takes the processor's four tensors, `sensor_values`,
`sensor_mask`, `sensor_time` (float32, (B, C, P, S)) and `patch_size` (int64, (B,)), with every axis dynamic,
and returns `sensor_embeds` (B, projection_dim, L2-normalised), `token_features` (B, C*P, hidden_size) and
`token_mask` (B, C*P). Build its inputs with `SlipProcessor` (`return_tensors="np"`): ONNX has no assertions,
so the model's value checks do not travel with the graph. Needs the `onnx` extra (onnx, onnxscript; onnxruntime
to verify): `pip install "slip[onnx]"`. The export is checked in onnxruntime against PyTorch on a batch of
mixed patch sizes, and the largest difference is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from .modeling_slip import SlipModel
from .sensor_export import (
    SENSOR_OUTPUT_NAMES,
    SlipSensorFeatures,
    example_sensor_inputs,
    export_sensor_program,
)
from .sensor_inputs import SENSOR_INPUT_KEYS

VERIFY_TOLERANCE = 1e-4
"""Largest |ONNX Runtime - PyTorch| accepted on the check batch, in float32."""


def export_onnx(model_dir: str | Path, output: str | Path) -> Path:
    """Write the sensor side of the model in `model_dir` to `output` (float32) and return the path."""
    output = Path(output)
    model = SlipModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    # The FlexMLP's map table is kept in float64 for exactness; float32 is what the float32 graph computes in.
    model.sensor_model.embeddings.input_map_table = model.sensor_model.embeddings.input_map_table.float()
    program = torch.onnx.export(
        export_sensor_program(model),
        input_names=list(SENSOR_INPUT_KEYS),
        output_names=list(SENSOR_OUTPUT_NAMES),
        dynamo=True,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(output))
    return output


def max_difference_to_pytorch(
    model_dir: str | Path, onnx_path: str | Path, inputs: dict[str, torch.Tensor]
) -> float:
    """Largest |ONNX Runtime - PyTorch| over the three outputs on `inputs` (needs onnxruntime)."""
    import onnxruntime

    runtime = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    features = SlipSensorFeatures(SlipModel.from_pretrained(model_dir, dtype=torch.float32).eval())
    with torch.no_grad():
        expected = features(*(inputs[key] for key in SENSOR_INPUT_KEYS))
    got = runtime.run(list(SENSOR_OUTPUT_NAMES), {key: inputs[key].numpy() for key in SENSOR_INPUT_KEYS})
    return max(float(np.abs(e.float().numpy() - g).max()) for e, g in zip(expected, got))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model_dir", help="a saved SLIP model (SlipModel or SlipForConditionalGeneration)")
    parser.add_argument("output", help="the .onnx file to write")
    args = parser.parse_args(argv)
    path = export_onnx(args.model_dir, args.output)
    print(f"Wrote {path} ({path.stat().st_size / 2**20:.1f} MiB).")
    try:
        difference = max_difference_to_pytorch(args.model_dir, path, example_sensor_inputs())
    except ImportError:
        print("onnxruntime is not installed: the export was not checked (pip install onnxruntime).")
        return
    if difference > VERIFY_TOLERANCE:
        parser.exit(
            1, f"error: ONNX Runtime differs from PyTorch by {difference:.2e} (> {VERIFY_TOLERANCE}).\n"
        )
    print(f"ONNX Runtime matches PyTorch within {difference:.1e} on a batch of mixed patch sizes.")


if __name__ == "__main__":
    main()
