"""Losses of SLIP and the labels they read: the symmetric CLIP loss (global batch across processes), the
next-token caption loss, and their weighted sum. The model, the training collators and the trainer all use these,
so a change to a loss or to the label layout is made here once."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch.nn import functional as F

from .configuration_slip import SlipConfig

IGNORE_INDEX = -100
"""Label of tokens no loss scores (prompt, padding); the ignore index of PyTorch's and transformers' losses."""


def caption_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Caption-loss labels of a batch of captions: the tokens themselves, IGNORE_INDEX on padding and at position
    0, which is never a next-token target (so counting labels counts the loss's terms)."""
    labels = input_ids if attention_mask is None else input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
    labels = labels.clone()
    labels[:, 0] = IGNORE_INDEX
    return labels


def caption_target_count(labels: torch.Tensor) -> torch.Tensor:
    """How many next-token targets `caption_loss` scores in `labels` (a 0-d tensor)."""
    return (labels[:, 1:] != IGNORE_INDEX).sum()


def weighted_loss(
    caption_term: torch.Tensor, contrastive_term: torch.Tensor | None, config: SlipConfig
) -> torch.Tensor:
    """The training objective: caption_loss_weight * caption + contrastive_loss_weight * contrastive (when the
    contrastive term was computed)."""
    loss = config.caption_loss_weight * caption_term
    if contrastive_term is not None:
        loss = loss + config.contrastive_loss_weight * contrastive_term
    return loss


def _gather_with_grad(local: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All-gather (B_r, D) rows from every rank, keeping the autograd graph; returns (sum B_r, D) and this
    rank's row offset. Ranks may hold different batch sizes (the last batch of an epoch)."""
    world_size = dist.get_world_size()
    sizes = torch.tensor([local.shape[0]], device=local.device)
    all_sizes = [torch.zeros_like(sizes) for _ in range(world_size)]
    dist.all_gather(all_sizes, sizes)
    counts = [int(size) for size in all_sizes]
    largest = max(counts)
    padded = F.pad(local, (0, 0, 0, largest - local.shape[0]))
    gathered = dist_fn.all_gather(padded)
    rows = torch.cat([chunk[:count] for chunk, count in zip(gathered, counts)], dim=0)
    return rows, sum(counts[: dist.get_rank()])


def clip_loss(
    sensor_embeds: torch.Tensor, text_embeds: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE over scaled cosine similarities of L2-normalised (B, D) embeddings.

    Under `torch.distributed` with world size > 1, the negatives are the global batch: embeddings are gathered
    with gradient, each rank scores its own rows against all columns, and labels are offset by the rank's
    first global row. The mean over ranks of this loss equals the single-process loss on the global batch.
    """
    if sensor_embeds.shape != text_embeds.shape:
        raise ValueError(
            f"sensor and text embeddings must have one shape, got {tuple(sensor_embeds.shape)} and "
            f"{tuple(text_embeds.shape)}; pass as many captions as sensor samples."
        )
    offset = 0
    all_sensor, all_text = sensor_embeds, text_embeds
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        all_sensor, offset = _gather_with_grad(sensor_embeds)
        all_text, _ = _gather_with_grad(text_embeds)
    labels = torch.arange(sensor_embeds.shape[0], device=sensor_embeds.device) + offset
    logits_per_sensor = logit_scale * sensor_embeds @ all_text.t()
    logits_per_text = logit_scale * text_embeds @ all_sensor.t()
    return (
        F.cross_entropy(logits_per_sensor.float(), labels) + F.cross_entropy(logits_per_text.float(), labels)
    ) / 2


def caption_targets(
    labels: torch.Tensor, select_targets: bool = True
) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """The rows a caption loss scores and their next-token targets: a function that takes those rows from any
    (B, T, ...) tensor laid out like the labels, and the (rows,) targets.

    With `select_targets`, only the positions with a target (label not IGNORE_INDEX) are taken, which skips the
    (B, T, vocab) logits of padding and prompt tokens (most of a step's memory with a large vocabulary); finding
    them reads the labels on the host. Packed captions, whose positions are nearly all targets, pass
    `select_targets=False`: every position is taken, non-targets keep IGNORE_INDEX, and the host is not asked.
    """
    targets = labels[:, 1:]
    if not select_targets:
        return lambda tensor: tensor[:, :-1].flatten(0, 1), targets.flatten()
    keep = targets != IGNORE_INDEX
    if not bool(keep.any()):
        raise ValueError(
            f"The caption loss has no target token: every label after the first is {IGNORE_INDEX}."
        )
    return lambda tensor: tensor[:, :-1][keep.to(tensor.device)], targets[keep]


def caption_loss(
    states: torch.Tensor,
    labels: torch.Tensor,
    head: Callable[[torch.Tensor], torch.Tensor] | None = None,
    select_targets: bool = True,
) -> torch.Tensor:
    """Next-token cross-entropy, mean over the tokens whose label is not IGNORE_INDEX (prompt, padding).

    `states` are (B, T, vocab) logits, or (B, T, width) hidden states when `head` maps hidden states to logits,
    which then runs on the scored rows only (`caption_targets`, which also explains `select_targets`).
    """
    select, targets = caption_targets(labels, select_targets)
    rows = select(states)
    logits = rows if head is None else head(rows)
    return F.cross_entropy(logits.float(), targets.to(states.device), ignore_index=IGNORE_INDEX)
