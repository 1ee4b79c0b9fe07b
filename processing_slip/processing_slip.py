"""SlipProcessor: a `SlipFeatureExtractor` for series plus a tokenizer for text, in one call.

Text comes in three shapes, each laid out the way the model reads it. With `text_layout="slip"` (the default,
for models this package trains):

- **captions** (`text=`): <bos> caption <eos>, right padded. The model takes the text embedding at the last
  attended token, which is <eos>. Zero-shot class prompts are captions too.
- **supervised finetuning** (`prompts=` with `answers=`): the chat template renders the prompt as a user turn
  and opens the model turn; the answer follows, closed by <end_of_turn> <eos>. `labels` equal `input_ids` on
  the answer tokens and are -100 on the prompt and on padding. Right padded.
- **generation** (`prompts=` alone): the chat template with the model turn opened, left padded so that new
  tokens follow every prompt directly.

With `text_layout="reference"` (the SLIP authors' layout, which their converted weights were trained on;
`SlipConfig.TEXT_LAYOUTS`): captions are `<bos> caption` without <eos>, left padded; prompts are plain text
(the task's instruction, no chat template): `<bos> prompt`, left padded, and for finetuning
`<bos> prompt` + " answer" + <eos> with labels on " answer" <eos>, right padded.

With `series_metadata=True` (for models with `SlipConfig.series_metadata`), every call with series also returns
`metadata_ids` and `metadata_attention_mask` (B, 3, width): what is known of each series besides its values, one
text per field, such as ("6 channels", "128 steps", "50 Hz") (`series_metadata`), each right padded.

Special tokens are added here, never by the tokenizer, so Gemma-3's tokenizer and `train_caption_tokenizer`'s
give the same layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transformers import BatchFeature, ProcessorMixin
from transformers.utils import TensorType

from modeling_slip.configuration_slip import TEXT_LAYOUTS
from modeling_slip.losses import IGNORE_INDEX
from modeling_slip.sensor_inputs import METADATA_INPUT_KEYS
from modeling_slip.series_metadata import MAX_METADATA_FIELD_TOKENS

from .feature_extraction_slip import METADATA_KEYS
from .series_metadata import metadata_fields
from .tokenization import END_OF_TURN

Message = dict[str, Any]


class SlipProcessor(ProcessorMixin):
    r"""Wraps a [`SlipFeatureExtractor`] and a tokenizer (Gemma-3's, or one from `train_caption_tokenizer`).

    Args:
        feature_extractor ([`SlipFeatureExtractor`]): turns series into `sensor_*` tensors and `patch_size`.
        tokenizer ([`PreTrainedTokenizerBase`]): needs <bos>, <eos>, <pad>, <end_of_turn> and a chat template
            (its own, or `chat_template=` here) for prompts.
        chat_template (`str`, *optional*): overrides the tokenizer's chat template for `prompts=`.
        text_layout (`str`, defaults to `"slip"`): "slip" or "reference" (module docstring); it must match the
            model's `config.text_layout`.
        series_metadata (`bool`, defaults to `False`): also write each series' metadata as text (module
            docstring); it must match the model's `config.series_metadata`.
    """

    def __init__(
        self,
        feature_extractor,
        tokenizer,
        chat_template: str | None = None,
        text_layout: str = "slip",
        series_metadata: bool = False,
    ):
        if text_layout not in TEXT_LAYOUTS:
            raise ValueError(f"text_layout must be one of {TEXT_LAYOUTS}, got {text_layout!r}.")
        super().__init__(feature_extractor, tokenizer, chat_template=chat_template)
        self.text_layout = text_layout
        self.series_metadata = bool(series_metadata)

    def __call__(
        self,
        series: Any = None,
        text: str | Sequence[str] | None = None,
        freq: Any = None,
        prompts: str | Sequence[str] | Sequence[Sequence[Message]] | None = None,
        answers: str | Sequence[str] | None = None,
        patch_size: int | Sequence[int] | None = None,
        padding: bool | str = True,
        max_length: int | None = None,
        truncation: bool = False,
        return_tensors: str | TensorType | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Process series and/or text into model inputs (see the module docstring for the text layouts).

        Args:
            series: any input `SlipFeatureExtractor` accepts; `freq`, `patch_size` and `kwargs`
                (`channel_names`, `return_normalization_stats`) go to it.
            text: captions or class prompts.
            prompts: questions, as strings (one user turn each) or as chat conversations (lists of
                {"role", "content"} messages).
            answers: target answers for supervised finetuning, one per prompt.
            padding: `True` / "longest" pads to the longest sequence, "max_length" to `max_length`, `False` not.
            max_length: longest allowed sequence. A longer caption is cut (keeping <eos>) only with
                `truncation=True`; a longer prompt always raises.
            return_tensors: "pt" or "np".
        """
        if text is not None and prompts is not None:
            raise ValueError("Pass either text= (captions, class prompts) or prompts= (chat), not both.")
        if answers is not None and prompts is None:
            raise ValueError(
                "answers= needs prompts=: pass the questions as prompts= and the targets as answers=."
            )
        if series is None and text is None and prompts is None:
            raise ValueError("Pass series=, text= or prompts= (or several of them).")
        features: dict[str, Any] = {}
        sensor_batch = None
        if series is not None:
            sensor = self.feature_extractor(
                series,
                freq=freq,
                patch_size=patch_size,
                return_tensors=return_tensors,
                return_metadata=self.series_metadata,
                **kwargs,
            )
            if self.series_metadata:
                features.update(
                    self._encode_metadata(*(sensor.pop(key) for key in METADATA_KEYS), return_tensors)
                )
            features.update(sensor)
            sensor_batch = len(sensor["patch_size"])
        elif kwargs:
            raise ValueError(f"Unexpected arguments {sorted(kwargs)}; they only apply together with series=.")
        if text is not None:
            encoded = self._encode_captions(_as_list(text, "text"), max_length, truncation)
            side = "left" if self.text_layout == "reference" else "right"
        elif prompts is not None:
            prompt_ids = self._render(prompts)
            if answers is None:
                _check_length(prompt_ids, max_length)
                encoded = {"input_ids": prompt_ids}
                side = "left"
            else:
                answer_list = _as_list(answers, "answers")
                if len(answer_list) != len(prompt_ids):
                    raise ValueError(
                        f"Got {len(prompt_ids)} prompts but {len(answer_list)} answers; pass one answer per prompt."
                    )
                encoded = self._encode_finetuning(prompt_ids, answer_list, max_length)
                side = "right"
        else:
            return BatchFeature(features)
        if sensor_batch is not None and len(encoded["input_ids"]) != sensor_batch:
            raise ValueError(
                f"Got {sensor_batch} series but {len(encoded['input_ids'])} texts; pass one text per series "
                "(for zero-shot class prompts, call the processor on the texts alone)."
            )
        text_features = self._pad(encoded, side, padding, max_length)
        features.update(BatchFeature(text_features, tensor_type=return_tensors))
        return BatchFeature(features)

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = True, **kwargs: Any) -> list[str]:
        """Decode token ids to strings; special tokens (padding, turn markers) are dropped unless asked for."""
        return self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens, **kwargs)

    def decode(self, token_ids: Any, skip_special_tokens: bool = True, **kwargs: Any) -> str:
        """Decode one sequence of token ids; special tokens are dropped unless asked for."""
        return self.tokenizer.decode(token_ids, skip_special_tokens=skip_special_tokens, **kwargs)

    def _token_id(self, token: str | None, role: str) -> int:
        token_id = None if token is None else self.tokenizer.convert_tokens_to_ids(token)
        if token_id is None or (
            token != self.tokenizer.unk_token and token_id == self.tokenizer.unk_token_id
        ):
            raise ValueError(
                f"The tokenizer has no {role} token ({token!r}); use a Gemma tokenizer or train_caption_tokenizer()."
            )
        return token_id

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def caption_lengths(self, texts: list[str]) -> list[int]:
        """Tokens each caption takes as `text=` input, special tokens included (before any truncation)."""
        special = 1 if self.text_layout == "reference" else 2
        return [len(ids) + special for ids in self._tokenize(list(texts))]

    def _bos(self) -> int:
        return self._token_id(self.tokenizer.bos_token, "<bos>")

    def _eos(self) -> int:
        return self._token_id(self.tokenizer.eos_token, "<eos>")

    def _encode_captions(self, texts: list[str], max_length: int | None, truncation: bool) -> dict[str, list]:
        closing = [] if self.text_layout == "reference" else [self._eos()]
        sequences = [[self._bos(), *ids, *closing] for ids in self._tokenize(texts)]
        if max_length is not None:
            if max_length < 1 + len(closing):
                raise ValueError(f"max_length must leave room for <bos> and <eos>, got {max_length}.")
            too_long = [i for i, ids in enumerate(sequences) if len(ids) > max_length]
            if too_long and not truncation:
                raise ValueError(
                    f"Captions {too_long} are longer than max_length={max_length} tokens; raise max_length or "
                    "pass truncation=True to cut them (keeping <eos>)."
                )
            keep = max_length - len(closing)
            sequences = [ids if len(ids) <= max_length else [*ids[:keep], *closing] for ids in sequences]
        return {"input_ids": sequences}

    def _encode_metadata(
        self, channels: Any, lengths: Any, seconds_per_step: Any, return_tensors: str | TensorType | None
    ) -> BatchFeature:
        """`metadata_fields` of each series, tokenised: (B, fields, width), each field right padded to the
        longest one in the batch."""
        fields = [
            metadata_fields(int(c), int(length), float(seconds))
            for c, length, seconds in zip(
                _as_numbers(channels), _as_numbers(lengths), _as_numbers(seconds_per_step)
            )
        ]
        tokens = [self._tokenize(list(texts)) for texts in fields]
        width = max(len(ids) for series in tokens for ids in series)
        if width > MAX_METADATA_FIELD_TOKENS:
            text, count = max(
                (
                    (text, len(ids))
                    for texts, series in zip(fields, tokens)
                    for text, ids in zip(texts, series)
                ),
                key=lambda item: item[1],
            )
            raise ValueError(
                f"The tokenizer splits the series metadata {text!r} into {count} tokens; the model reads at most "
                f"{MAX_METADATA_FIELD_TOKENS} per field. Use a tokenizer trained on captions (train_caption_tokenizer) "
                "or Gemma's."
            )
        pad = self._token_id(self.tokenizer.pad_token, "<pad>")
        ids = [[[*field, *[pad] * (width - len(field))] for field in series] for series in tokens]
        mask = [[[1] * len(field) + [0] * (width - len(field)) for field in series] for series in tokens]
        return BatchFeature(dict(zip(METADATA_INPUT_KEYS, (ids, mask))), tensor_type=return_tensors)

    def _render(self, prompts: Any) -> list[list[int]]:
        """Prompt token ids: the chat template with the model turn opened, or, in the reference layout, the
        plain prompt text after <bos>."""
        if self.text_layout == "reference":
            texts = _as_list(prompts, "prompts (plain text in the reference layout, no chat conversations)")
            return [[self._bos(), *ids] for ids in self._tokenize(texts)]
        rendered = self.tokenizer.apply_chat_template(
            _as_conversations(prompts),
            tokenize=False,
            add_generation_prompt=True,
            chat_template=self.chat_template,
        )
        return self._tokenize(rendered)

    def _encode_finetuning(
        self, prompt_ids: list[list[int]], answers: list[str], max_length: int | None
    ) -> dict[str, list]:
        if self.text_layout == "reference":
            answer_ids = [[*ids, self._eos()] for ids in self._tokenize([f" {answer}" for answer in answers])]
        else:
            closing = [self._token_id(END_OF_TURN, "end-of-turn"), self._eos()]
            answer_ids = [[*ids, *closing] for ids in self._tokenize(answers)]
        sequences = [[*prompt, *answer] for prompt, answer in zip(prompt_ids, answer_ids)]
        _check_length(sequences, max_length)
        labels = [[IGNORE_INDEX] * len(prompt) + answer for prompt, answer in zip(prompt_ids, answer_ids)]
        return {"input_ids": sequences, "labels": labels}

    def _pad(
        self, encoded: dict[str, list], side: str, padding: bool | str, max_length: int | None
    ) -> dict[str, Any]:
        padded = self.tokenizer.pad(
            {"input_ids": encoded["input_ids"]},
            padding=padding,
            # Sequences already respect max_length; the tokenizer needs it only to pad up to it.
            max_length=max_length if padding == "max_length" else None,
            padding_side=side,
            return_attention_mask=True,
        )
        result = {"input_ids": padded["input_ids"], "attention_mask": padded["attention_mask"]}
        if "labels" in encoded:
            result["labels"] = [
                _pad_to(labels, len(ids), side) for labels, ids in zip(encoded["labels"], padded["input_ids"])
            ]
        return result


def _pad_to(labels: list[int], length: int, side: str) -> list[int]:
    fill = [IGNORE_INDEX] * (length - len(labels))
    return labels + fill if side == "right" else fill + labels


def _as_numbers(values: Any) -> list[float]:
    """A feature extractor output column (list, numpy array or tensor) as Python numbers."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _check_length(sequences: list[list[int]], max_length: int | None) -> None:
    if max_length is None:
        return
    too_long = [i for i, ids in enumerate(sequences) if len(ids) > max_length]
    if too_long:
        longest = max(len(sequences[i]) for i in too_long)
        raise ValueError(
            f"Prompts {too_long} need up to {longest} tokens, more than max_length={max_length}; raise max_length "
            "or shorten them (chat sequences are never cut, so no answer is lost)."
        )


def _as_list(value: str | Sequence[str], name: str) -> list[str]:
    values = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if not values or not all(isinstance(item, str) for item in values):
        raise ValueError(f"{name} must be a string or a non-empty list of strings.")
    return values


def _as_conversations(prompts: Any) -> list[list[Message]]:
    """Strings become one user turn; a list of message dicts is one conversation; a list of those, several."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if isinstance(prompts, (list, tuple)) and prompts and all(isinstance(item, dict) for item in prompts):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError("prompts must be a string, a list of strings, or a list of chat conversations.")
    conversations = []
    for index, prompt in enumerate(prompts):
        if isinstance(prompt, str):
            conversations.append([{"role": "user", "content": prompt}])
        elif isinstance(prompt, (list, tuple)) and prompt and all(_is_message(m) for m in prompt):
            conversations.append(list(prompt))
        else:
            raise ValueError(
                f"prompt {index} must be a string or a list of {{'role': ..., 'content': ...}} messages, got {prompt!r}."
            )
    return conversations


def _is_message(message: Any) -> bool:
    return isinstance(message, dict) and "role" in message and "content" in message
