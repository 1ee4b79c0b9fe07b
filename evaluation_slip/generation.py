"""Batched text generation from series (captions) or series + questions (answers) for evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from .features import series_and_freqs


@torch.no_grad()
def generate_texts(
    model: Any,
    processor: Any,
    data: Any,
    prompts: Sequence[str] | None = None,
    *,
    batch_size: int = 16,
    max_new_tokens: int = 64,
    desc: str = "Generating",
    **generate_kwargs: Any,
) -> list[str]:
    """Greedy (unless `generate_kwargs` say otherwise) generations for every series in `data`.

    Without `prompts` the model captions each series from <bos>; with one prompt per series it answers in the
    chat layout (prompts left padded by the processor). Returns only the new text.
    """
    series, freqs = series_and_freqs(data)
    if prompts is not None and len(prompts) != len(series):
        raise ValueError(f"Need one prompt per series, got {len(prompts)} prompts for {len(series)} series.")
    device = next(model.parameters()).device
    texts: list[str] = []
    for start in tqdm(range(0, len(series), batch_size), desc=desc):
        stop = start + batch_size
        if prompts is None:
            inputs = processor(series=series[start:stop], freq=freqs[start:stop], return_tensors="pt")
        else:
            inputs = processor(
                series=series[start:stop],
                freq=freqs[start:stop],
                prompts=list(prompts[start:stop]),
                return_tensors="pt",
            )
        inputs = {key: value.to(device) for key, value in inputs.items()}
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, **generate_kwargs)
        prompt_length = inputs["input_ids"].shape[1] if "input_ids" in inputs else 0
        texts.extend(processor.batch_decode(output[:, prompt_length:], skip_special_tokens=True))
    return [text.strip() for text in texts]
