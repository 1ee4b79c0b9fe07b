"""Series metadata for the decoder (`SlipConfig.series_metadata`): each series' channel count, length and
sampling rate, as the processor writes them, turned into tokens the decoder cross-attends to.

The processor writes the facts as three short texts, one per field of `METADATA_FIELDS` ("6 channels",
"128 steps", "50 Hz"), each tokenised and padded to a common width: `metadata_ids` (B, fields, width). Every token
here is its word embedding (the LM head's, untransformed, so that the decoder can copy a digit by attending to it)
plus a learned embedding of its field and of its place in the field. A caption's "of 128 steps" then needs a
cross-attention query for "the length's next digit", the same query for every series, rather than a search for
where the number sits in a free text.
"""

from __future__ import annotations

import torch
from torch import nn

METADATA_FIELDS = ("channels", "length", "rate")
"""The facts, in the order of `metadata_ids`' second axis."""

MAX_METADATA_FIELD_TOKENS = 16
"""Tokens one field may take: the longest field, a rate such as "one value every 10 min", takes 7 with the corpus
tokenizer (`train_caption_tokenizer`) and Gemma's, which split numbers into digits."""


class SlipMetadataEmbeddings(nn.Module):
    """(B, fields, width) token ids -> (B, fields * width, hidden) context tokens."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.field_embedding = nn.Embedding(len(METADATA_FIELDS), hidden_size)
        self.position_embedding = nn.Embedding(MAX_METADATA_FIELD_TOKENS, hidden_size)

    def forward(self, metadata_ids: torch.LongTensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        batch, fields, width = metadata_ids.shape
        if fields != len(METADATA_FIELDS) or width > MAX_METADATA_FIELD_TOKENS:
            raise ValueError(
                f"metadata_ids must have shape (batch, {len(METADATA_FIELDS)}, at most "
                f"{MAX_METADATA_FIELD_TOKENS}) (fields {METADATA_FIELDS}), got {tuple(metadata_ids.shape)}; build "
                "it with SlipProcessor(series_metadata=True)."
            )
        tokens = nn.functional.embedding(metadata_ids, word_embeddings)
        places = self.field_embedding.weight[:, None] + self.position_embedding.weight[None, :width]
        return (tokens + places.to(tokens.dtype)).reshape(batch, fields * width, -1)
