"""Padding-free batches: where the valid sensor tokens and caption tokens of a batch are.

A padded batch spends compute on padding: about a sixth of the sensor tokens under the patch-size policy and
close to half of the caption positions in a corpus batch. Given what these functions return, the model runs
its linear layers and FFNs on the valid tokens only and re-pads just for attention (sensor side), or runs the
captions as one packed sequence with block-diagonal causal attention (text side; flash-attention's varlen path
on GPU). They read the batch on the host, where a training collator builds it, so the model never has to ask the
device where the tokens are (no host synchronisation in the training step).

The packed caption keys follow transformers' padding-free convention (`DataCollatorWithFlattening`):
`input_ids`, `position_ids` and `labels` of shape (1, N), `cu_seq_lens_q` (B + 1,) int32 cumulative lengths and
`max_length_q`, the longest caption (an int).
"""

from __future__ import annotations

from typing import Any

import torch

from .losses import IGNORE_INDEX, caption_labels

PACKED_CAPTION_KEYS = ("cu_seq_lens_q", "max_length_q")


def sensor_token_index(sensor_mask: torch.Tensor) -> torch.Tensor:
    """The flattened B*C*P positions of the valid patch tokens (those with an observed step), ascending: the
    `sensor_token_index` the models take."""
    return torch.nonzero(sensor_mask.any(dim=-1).flatten()).flatten()


def pack_captions(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None = None
) -> dict[str, Any]:
    """Padded (B, T) captions (either padding side) -> the packed caption keys.

    `labels` default to `caption_labels`; the first token of every caption is never a target (in the packed
    sequence it follows the previous caption).
    """
    keep = attention_mask.bool()
    lengths = keep.sum(dim=1)
    if not bool(lengths.all()):
        raise ValueError("Every caption needs at least one token (a 1 in attention_mask) to be packed.")
    labels = caption_labels(input_ids, attention_mask) if labels is None else labels.clone()
    starts = keep.long().cumsum(dim=1) == 1
    labels[starts & keep] = IGNORE_INDEX
    cumulative = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    cumulative[1:] = lengths.cumsum(dim=0)
    return {
        "input_ids": input_ids[keep][None],
        "position_ids": (keep.long().cumsum(dim=1) - 1)[keep][None],
        "labels": labels[keep][None],
        "cu_seq_lens_q": cumulative,
        "max_length_q": int(lengths.max()),
    }


def packed_sequence_ids(cu_seq_lens: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """(N,) the caption each packed token belongs to, from the cumulative lengths (on the device, no sync)."""
    positions = torch.arange(num_tokens, device=cu_seq_lens.device)
    return torch.searchsorted(cu_seq_lens[1:].to(positions.dtype), positions, right=True)
