"""Checkpoints load through `auto_map` + `trust_remote_code=True` in a process where `modeling_slip` cannot be
imported (it is pip-installed in CI, so a `sys.meta_path` finder actively blocks it)."""

import json
import os
import subprocess
import sys
import textwrap

import torch

from modeling_slip import SlipConfig, SlipForConditionalGeneration

LOADER = textwrap.dedent(
    """
    import importlib.abc
    import sys

    class BlockSlipPackage(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "modeling_slip" or name.startswith("modeling_slip."):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockSlipPackage())

    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    checkpoint = sys.argv[1]
    try:
        import modeling_slip  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("modeling_slip should not be importable here")

    expected = torch.load(f"{checkpoint}/expected.pt")
    coca = AutoModelForCausalLM.from_pretrained(checkpoint, trust_remote_code=True).eval()
    dual = AutoModel.from_pretrained(checkpoint, trust_remote_code=True).eval()
    assert type(coca).__name__ == "SlipForConditionalGeneration", type(coca)
    assert type(dual).__name__ == "SlipModel", type(dual)
    assert not type(coca).__module__.startswith("modeling_slip"), type(coca).__module__
    with torch.no_grad():
        output = coca(**expected["inputs"])
        features = dual.get_sensor_features(**{k: expected["inputs"][k] for k in expected["sensor_keys"]})
    torch.testing.assert_close(output.logits, expected["logits"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(features, output.sensor_embeds, rtol=0, atol=0)
    print("REMOTE CODE OK")
    """
)


def test_checkpoint_loads_with_trust_remote_code_without_the_package(tmp_path):
    torch.manual_seed(0)
    model = SlipForConditionalGeneration(SlipConfig.from_preset("tiny")).eval()
    checkpoint = tmp_path / "checkpoint"
    model.save_pretrained(checkpoint)
    auto_map = json.loads((checkpoint / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_slip.SlipConfig",
        "AutoModel": "modeling_slip.SlipModel",
        "AutoModelForCausalLM": "modeling_slip.SlipForConditionalGeneration",
    }
    for module_file in ("configuration_slip.py", "modeling_slip.py", "text_tower.py", "sensor_encoder.py"):
        assert (checkpoint / module_file).exists()

    sensor_keys = ["sensor_values", "sensor_mask", "sensor_time", "patch_size"]
    inputs = {
        "sensor_values": torch.randn(2, 2, 3, 8),
        "sensor_mask": torch.ones(2, 2, 3, 8, dtype=torch.bool),
        "sensor_time": (torch.arange(24.0).view(1, 1, 3, 8).expand(2, 2, 3, 8) + 1) / 25,
        "patch_size": torch.tensor([8, 8]),
        "input_ids": torch.randint(3, 4096, (2, 5)),
        "attention_mask": torch.ones(2, 5, dtype=torch.long),
    }
    with torch.no_grad():
        logits = model(**inputs).logits
    torch.save({"inputs": inputs, "sensor_keys": sensor_keys, "logits": logits}, checkpoint / "expected.pt")

    script = tmp_path / "load_remote.py"
    script.write_text(LOADER)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-I", str(script), str(checkpoint)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "REMOTE CODE OK" in result.stdout
