"""A compact caption tokenizer for small SLIP presets, laid out like Gemma's.

Gemma checkpoints bring the Gemma-3 tokenizer (262k tokens). Tiny and small models trained from scratch need a
vocabulary that fits `tiny_text_config().vocab_size` (4096); `train_caption_tokenizer` learns one on caption
text. It keeps Gemma's conventions so `SlipProcessor` and the model treat both alike:

- special ids <pad>=0, <eos>=1, <bos>=2, <unk>=3 (as in Gemma), then <start_of_turn>=4, <end_of_turn>=5;
- encoding adds <bos> (Gemma's default), never <eos>;
- digits are split one per token (as in Gemma), the rest is byte-level BPE, so any text encodes without <unk>;
- a Gemma-style chat template (`GEMMA_CHAT_TEMPLATE`) with "user" / "model" turns.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

PAD, EOS, BOS, UNK = "<pad>", "<eos>", "<bos>", "<unk>"
START_OF_TURN, END_OF_TURN = "<start_of_turn>", "<end_of_turn>"
SPECIAL_TOKENS = (PAD, EOS, BOS, UNK, START_OF_TURN, END_OF_TURN)

# Gemma's turn format: the conversation opens with <bos>; a system message is prepended to the first user
# turn; "assistant" is spelled "model"; content is a string or a list of {"type": "text", "text": ...} parts.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set system = '' -%}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set system = messages[0]['content'] if messages[0]['content'] is string "
    "else messages[0]['content'] | map(attribute='text') | join('') -%}"
    "{%- set system = system ~ '\n\n' -%}"
    "{%- set messages = messages[1:] -%}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{%- set content = message['content'] if message['content'] is string "
    "else message['content'] | map(attribute='text') | join('') -%}"
    "{{ '<start_of_turn>' ~ role ~ '\n' ~ (system if loop.first else '') ~ (content | trim) ~ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


def train_caption_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 4096,
    *,
    min_frequency: int = 2,
    model_max_length: int = 1024,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer of at most `vocab_size` tokens on `texts` (deterministic for the same
    texts) and wrap it as a fast tokenizer with Gemma's special-token ids and chat template."""
    if vocab_size < len(SPECIAL_TOKENS) + 256:
        raise ValueError(
            f"vocab_size must be at least {len(SPECIAL_TOKENS) + 256} (special tokens + 256 bytes), got {vocab_size}."
        )
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts or not all(isinstance(text, str) for text in texts):
        raise ValueError(
            "texts must be a non-empty iterable of strings (the captions to learn the vocabulary from)."
        )
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tokenizer.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=model_max_length,
        padding_side="right",
        chat_template=GEMMA_CHAT_TEMPLATE,
    )
