"""Copying from the series metadata (`SlipConfig.copy_metadata`), for models with `SlipConfig.series_metadata`.

A decoder that cross-attends to "128 steps" must still turn what it read into the logit of "1", then of "2",
then of "8"; 700 CPU steps do not teach it that (`docs/experiments.md`, experiment 7). The copy head scores each
metadata token as the next token directly, as CopyNet (Gu et al., 2016) does: one softmax over the vocabulary's
logits and the metadata tokens' scores, so that a token's probability is its logit's share plus the shares of
the metadata tokens with its id.

A token's score is the sum of two terms. The first is a linear map of the decoder's last state to one score
per slot (field and place in the field, `METADATA_FIELDS` x `MAX_METADATA_FIELD_TOKENS`): which slot to copy
from is a question of where the caption is ("of 128 steps" copies the length's first slot), not of what the
slot holds, so it is learnt once for every series. The second is a learned weight when the token follows, in
its field, the token just read: having written the "1" of "128", the "2" is next, whatever the number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .losses import IGNORE_INDEX
from .series_metadata import MAX_METADATA_FIELD_TOKENS, METADATA_FIELDS

FOLLOW_WEIGHT_INIT = 4.0
"""Initial score bonus of the metadata token that follows the one just read. Adam moves a scalar by about the
learning rate per step, so a weight started at 0 would stay below 0.3 over a 700-step run at lr 3e-4; at 4, the
follower starts about e^4 = 55 times likelier than the other metadata tokens, and training can still lower it."""


@dataclass
class MetadataCopySource:
    """What can be copied, per series, flattened over (fields, width) to M tokens: their ids (B, M), which are
    real tokens, not padding (B, M), the id of the token before each in its field (B, M; -1 for a field's first
    token), and each token's slot (M,), its index among `len(METADATA_FIELDS) * MAX_METADATA_FIELD_TOKENS`."""

    ids: torch.LongTensor
    valid: torch.Tensor
    previous_ids: torch.LongTensor
    slots: torch.LongTensor

    @classmethod
    def from_metadata(
        cls, metadata_ids: torch.LongTensor, metadata_attention_mask: torch.Tensor
    ) -> MetadataCopySource:
        """From the (B, fields, width) processor tensors."""
        fields, width = metadata_ids.shape[1:]
        field_start = torch.full_like(metadata_ids[..., :1], -1)
        previous = torch.cat([field_start, metadata_ids[..., :-1]], dim=-1)
        places = torch.arange(width, device=metadata_ids.device)
        slots = torch.arange(fields, device=metadata_ids.device)[:, None] * MAX_METADATA_FIELD_TOKENS + places
        return cls(
            metadata_ids.flatten(1),
            metadata_attention_mask.bool().flatten(1),
            previous.flatten(1),
            slots.flatten(),
        )


@dataclass
class MetadataCopyScores:
    """Each text position's scores for copying each metadata token (..., M), with those tokens' ids and validity,
    laid out like the decoder's positions so that selecting positions selects their scores (`map`)."""

    scores: torch.Tensor
    ids: torch.LongTensor
    valid: torch.Tensor

    def map(self, select: Callable[[torch.Tensor], torch.Tensor]) -> MetadataCopyScores:
        """The same selection of positions applied to scores, ids and validity alike."""
        return MetadataCopyScores(select(self.scores), select(self.ids), select(self.valid))


class SlipMetadataCopyHead(nn.Module):
    """Scores of copying each metadata token at each text position (module docstring)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.slot_scores = nn.Linear(hidden_size, len(METADATA_FIELDS) * MAX_METADATA_FIELD_TOKENS)
        self.follow_weight = nn.Parameter(torch.tensor(FOLLOW_WEIGHT_INIT))

    def forward(
        self,
        hidden_states: torch.Tensor,
        input_ids: torch.LongTensor,
        source: MetadataCopySource,
        position_sample: torch.LongTensor | None = None,
    ) -> MetadataCopyScores:
        """`hidden_states` (B, T, hidden) and `input_ids` (B, T) of padded captions, one per series; or of packed
        captions (1, N, ...), with `position_sample` (N,) naming each position's series."""
        scores = self.slot_scores(hidden_states)[..., source.slots]

        def per_position(tensor: torch.Tensor) -> torch.Tensor:
            """(B, M) per series -> (B, T, M), or (1, N, M) for packed captions, per text position."""
            if position_sample is None:
                return tensor[:, None].expand(-1, hidden_states.shape[1], -1)
            return tensor[position_sample][None]

        follows = input_ids[..., None] == per_position(source.previous_ids)
        scores = scores + self.follow_weight * follows
        return MetadataCopyScores(scores, per_position(source.ids), per_position(source.valid))


def _masked_scores(copies: MetadataCopyScores) -> torch.Tensor:
    """float32 scores with padding at the lowest finite value: it adds nothing to a sum of exponentials, and a
    row without metadata keeps finite gradients, which -inf would not."""
    scores = copies.scores.float()
    return scores.masked_fill(~copies.valid, torch.finfo(scores.dtype).min)


def logits_with_copies(vocab_logits: torch.Tensor, copies: MetadataCopyScores) -> torch.Tensor:
    """The joint softmax's logits over the vocabulary: log(exp(logit_v) + sum of exp(score_j) over the valid
    metadata tokens j with id v), in float32. Vocabulary entries no metadata token names keep their logit."""
    scores = _masked_scores(copies)
    top = scores.amax(dim=-1, keepdim=True)
    mass = torch.zeros_like(vocab_logits, dtype=torch.float32)
    mass = mass.scatter_add(-1, copies.ids.clamp(min=0), torch.exp(scores - top))
    copied = torch.where(mass > 0, torch.log(mass.clamp(min=torch.finfo(mass.dtype).tiny)) + top, -torch.inf)
    return torch.logaddexp(vocab_logits.float(), copied)


def copy_cross_entropy(
    vocab_logits: torch.Tensor,
    copies: MetadataCopyScores,
    targets: torch.Tensor,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Mean next-token cross-entropy of (rows, vocab) logits and their (rows, M) copy scores under the joint
    softmax, without `logits_with_copies`' (rows, vocab) scatter: the normaliser is the log-sum-exp of both sets,
    the target's score that of its logit and the scores of the metadata tokens with its id. Rows whose target is
    `ignore_index` are left out by masking rather than indexing, so that packed captions need no host
    synchronisation."""
    scores = _masked_scores(copies)
    vocab_logits = vocab_logits.float()
    scored = targets != ignore_index
    safe_targets = targets.masked_fill(~scored, 0)
    normaliser = torch.logaddexp(vocab_logits.logsumexp(dim=-1), scores.logsumexp(dim=-1))
    target_copies = scores.masked_fill(copies.ids != safe_targets[:, None], torch.finfo(scores.dtype).min)
    target_score = torch.logaddexp(
        vocab_logits.gather(-1, safe_targets[:, None]).squeeze(-1), target_copies.logsumexp(dim=-1)
    )
    losses = torch.where(scored, normaliser - target_score, torch.zeros_like(normaliser))
    return losses.sum() / scored.sum()
