"""SLIP models: `SlipModel` (dual encoder, like `CLIPModel`) and `SlipForConditionalGeneration` (CoCa).

Both are built from the same towers (`SlipPreTrainedModel._init_towers`) with the same module names
(`sensor_model`, `pooler`, `sensor_projection`, `text_model`, `text_projection`, `logit_scale`; the generation
model's text tower also holds the decoder layers with their cross-attention, and it adds `lm_head`), so each
class loads the other's checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import GenerationMixin
from transformers.cache_utils import Cache, DynamicCache
from transformers.utils.generic import can_return_tuple

from .configuration_slip import COPY_WITHOUT_METADATA, SlipConfig
from .losses import caption_labels, caption_loss, caption_targets, clip_loss, weighted_loss
from .metadata_copy import (
    MetadataCopyScores,
    MetadataCopySource,
    SlipMetadataCopyHead,
    copy_cross_entropy,
    logits_with_copies,
)
from .modeling_base import SlipPreTrainedModel
from .modeling_outputs import SlipForConditionalGenerationOutput, SlipOutput
from .packing import packed_sequence_ids
from .sensor_encoder import SlipSensorEncoderOutput
from .series_metadata import SlipMetadataEmbeddings
from .text_tower import CACHE_ARGUMENT, deprecated_cache_name

_PRECOMPUTED_WITH_METADATA = (
    "A precomputed sensor_context given with metadata_ids must be the pooled sensor tokens alone "
    "(get_sensor_context: {expected} tokens, got {got}), without a sensor_context_mask; the metadata states are "
    "added from metadata_ids."
)


def text_batch_size(text: torch.Tensor, cu_seq_lens_q: torch.Tensor | None) -> int:
    """Captions in the text inputs: rows, or packed captions."""
    return text.shape[0] if cu_seq_lens_q is None else cu_seq_lens_q.shape[0] - 1


class SlipModel(SlipPreTrainedModel):
    """Dual encoder: sensor encoder -> attention pooler (query 0) -> projection, and the text encoder layers
    -> EOS state -> projection; both L2-normalised; learnable temperature."""

    def __init__(self, config: SlipConfig):
        super().__init__(config)
        self._init_towers(num_text_layers=config.split_layer)
        # A SlipForConditionalGeneration checkpoint loads into SlipModel without its decoder.
        decoder_layers = "|".join(
            str(i) for i in range(config.split_layer, config.text_config.num_hidden_layers)
        )
        self._keys_to_ignore_on_load_unexpected = [
            rf"^text_model\.layers\.({decoder_layers})\.",
            r"^text_model\.(cross_attention_layers|norm)\.",
            r"^lm_head\.",
            r"^metadata_(embeddings|copy)\.",
        ]
        self.post_init()
        self.freeze_text_tower()

    @can_return_tuple
    def forward(
        self,
        sensor_values: torch.Tensor | None = None,
        sensor_mask: torch.Tensor | None = None,
        sensor_time: torch.Tensor | None = None,
        patch_size: torch.Tensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        return_loss: bool = True,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        position_ids: torch.LongTensor | None = None,
        sensor_token_index: torch.Tensor | None = None,
        cu_seq_lens_q: torch.Tensor | None = None,
        max_length_q: int | None = None,
        metadata_ids: torch.Tensor | None = None,
        metadata_attention_mask: torch.Tensor | None = None,
    ) -> SlipOutput:
        """Embed both modalities; with `return_loss`, the symmetric CLIP loss over the (global) batch.

        `output_attentions` returns the sensor encoder's attention maps (the text tower's are not collected);
        it and `output_hidden_states` default to the config's. `return_dict=False` (or `config.return_dict`)
        returns a tuple. `sensor_token_index`, `position_ids`, `cu_seq_lens_q` and `max_length_q` make the
        step padding-free (`modeling_slip.packing`). Series metadata (`SlipConfig.series_metadata`) is for the
        decoder, which this model does not have: it is accepted, so that a processor's output passes whole, and
        not read.
        """
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        if input_ids is None:
            raise ValueError(
                "SlipModel.forward needs input_ids (the captions); for sensor-only use get_sensor_features."
            )
        if sensor_values is not None:
            self._check_batch(sensor_values.shape[0], text_batch_size(input_ids, cu_seq_lens_q))
        sensor_output, pooled = self._encode_sensor(
            sensor_values,
            sensor_mask,
            sensor_time,
            patch_size,
            output_attentions,
            output_hidden_states,
            sensor_token_index,
        )
        text_output = self.text_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            run_decoder=False,
            output_hidden_states=output_hidden_states,
            cu_seq_lens_q=cu_seq_lens_q,
            max_length_q=max_length_q,
        )
        sensor_embeds = self._sensor_embeds(pooled)
        text_embeds = self._text_embeds(text_output, attention_mask, cu_seq_lens_q)
        scale, logits_per_sensor, logits_per_text = self._contrastive_logits(sensor_embeds, text_embeds)
        loss = clip_loss(sensor_embeds, text_embeds, scale) if return_loss else None
        return SlipOutput(
            loss=loss,
            logits_per_sensor=logits_per_sensor,
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            sensor_embeds=sensor_embeds,
            text_model_output=text_output,
            sensor_model_output=sensor_output,
        )


class SlipForConditionalGeneration(SlipPreTrainedModel, GenerationMixin):
    """CoCa: the dual encoder's towers plus the multimodal decoder (Gemma layers [split_layer, N) each followed by
    cross-attention to the pooled sensor tokens) and a tied LM head. One forward over a caption gives the
    contrastive and the caption loss.

    Supervised finetuning (QA, captioning): pass `contrastive=False` to `forward` (or set
    `config.contrastive_loss_weight = 0`) to skip the text embedding and the contrastive term; pass `labels`
    with IGNORE_INDEX (-100) on prompt and padding tokens.
    """

    _tied_weights_keys = {"lm_head.weight": "text_model.embed_tokens.weight"}

    def __init__(self, config: SlipConfig):
        super().__init__(config)
        self._init_towers(num_text_layers=config.text_config.num_hidden_layers)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        if config.series_metadata:
            self.metadata_embeddings = SlipMetadataEmbeddings(config.text_config.hidden_size)
        if config.copy_metadata:
            if (
                not config.series_metadata
            ):  # `from_pretrained(..., copy_metadata=True)` sets it past the config's check
                raise ValueError(COPY_WITHOUT_METADATA)
            self.metadata_copy = SlipMetadataCopyHead(config.text_config.hidden_size)
        self.post_init()
        self.freeze_text_tower()

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.lm_head = value

    def get_sensor_context(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
    ) -> torch.Tensor:
        """The pooled sensor tokens the decoder cross-attends to: (B, num_caption_queries, width), or all
        1 + num_caption_queries if `config.caption_uses_contrastive_query`."""
        _, pooled = self._encode_sensor(sensor_values, sensor_mask, sensor_time, patch_size)
        return self._caption_context(pooled)

    def _caption_context(self, pooled: torch.Tensor) -> torch.Tensor:
        return pooled if self.config.caption_uses_contrastive_query else pooled[:, 1:]

    def get_metadata_context(self, metadata_ids: torch.LongTensor) -> torch.Tensor:
        """The tokens (B, fields * width, hidden) of each series' metadata (`modeling_slip.series_metadata`),
        which a model with `config.series_metadata` reads beside the pooled sensor tokens."""
        return self.metadata_embeddings(metadata_ids, self.text_model.embed_tokens.weight)

    def _with_metadata(
        self,
        sensor_context: torch.Tensor,
        metadata_ids: torch.LongTensor | None,
        metadata_attention_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, MetadataCopySource | None]:
        """The decoder's context and its key mask: the pooled sensor tokens, followed, for a model with
        `config.series_metadata`, by the metadata states (mask False on their padding); and, for a model with
        `config.copy_metadata`, what its copy head can copy."""
        given = metadata_ids is not None
        if given != self.config.series_metadata:
            raise ValueError(
                "This model reads series metadata (config.series_metadata=True): pass metadata_ids and "
                "metadata_attention_mask from SlipProcessor(series_metadata=True)."
                if self.config.series_metadata
                else "This model does not read series metadata (config.series_metadata=False): leave out "
                "metadata_ids, or use a processor with series_metadata=False."
            )
        if not given:
            return sensor_context, None, None
        if metadata_attention_mask is None:
            metadata_attention_mask = torch.ones_like(metadata_ids)
        self._check_batch(metadata_ids.shape[0], sensor_context.shape[0])
        states = self.get_metadata_context(metadata_ids)
        sensor_valid = torch.ones(sensor_context.shape[:2], dtype=torch.bool, device=sensor_context.device)
        context = torch.cat([sensor_context, states.to(sensor_context.dtype)], dim=1)
        context_mask = torch.cat([sensor_valid, metadata_attention_mask.flatten(1).bool()], dim=1)
        copy_source = None
        if self.config.copy_metadata:
            copy_source = MetadataCopySource.from_metadata(metadata_ids, metadata_attention_mask)
        return context, context_mask, copy_source

    def _copy_scores(
        self,
        hidden_states: torch.Tensor,
        input_ids: torch.LongTensor | None,
        copy_source: MetadataCopySource | None,
        cu_seq_lens_q: torch.Tensor | None,
    ) -> MetadataCopyScores | None:
        """The copy head's scores at every text position, for a model with `config.copy_metadata`."""
        if not self.config.copy_metadata:
            return None
        if copy_source is None or input_ids is None:
            raise ValueError(
                "This model copies from the series metadata (config.copy_metadata=True): pass input_ids (not "
                "inputs_embeds) with metadata_ids and metadata_attention_mask from SlipProcessor(series_metadata="
                "True), and the sensor inputs or the pooled sensor tokens of get_sensor_context."
            )
        position_sample = None
        if cu_seq_lens_q is not None:
            position_sample = packed_sequence_ids(cu_seq_lens_q, hidden_states.shape[1])
        return self.metadata_copy(hidden_states, input_ids, copy_source, position_sample)

    def _output_logits(self, hidden_states: torch.Tensor, copies: MetadataCopyScores | None) -> torch.Tensor:
        """Logits of the next token: the LM head's, joined with the copy head's scores when there are any."""
        logits = self._vocab_logits(hidden_states)
        return logits if copies is None else logits_with_copies(logits, copies)

    def _vocab_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        logits = self.lm_head(hidden_states)
        softcap = self.config.text_config.final_logit_softcapping
        if softcap is not None:
            logits = torch.tanh(logits / softcap) * softcap
        return logits

    def _kept_logits(
        self,
        hidden_states: torch.Tensor,
        logits_to_keep: int | torch.Tensor,
        copies: MetadataCopyScores | None,
    ) -> torch.Tensor:
        """Next-token logits of the last `logits_to_keep` positions (all when 0), or of the given indices."""

        def keep(tensor: torch.Tensor) -> torch.Tensor:
            if isinstance(logits_to_keep, int):
                return tensor[:, -logits_to_keep:] if logits_to_keep else tensor
            return tensor[:, logits_to_keep]

        return self._output_logits(keep(hidden_states), None if copies is None else copies.map(keep))

    def _encode_sensor_side(
        self,
        sensor_inputs: tuple[torch.Tensor | None, ...],
        sensor_context: torch.Tensor | None,
        sensor_context_mask: torch.Tensor | None,
        metadata: tuple[torch.Tensor | None, torch.Tensor | None],
        text_batch: int,
        output_attentions: bool,
        output_hidden_states: bool,
        sensor_token_index: torch.Tensor | None,
    ) -> tuple[
        SlipSensorEncoderOutput | None,
        torch.Tensor | None,
        torch.Tensor,
        torch.Tensor | None,
        MetadataCopySource | None,
    ]:
        """(encoder output, sensor embeddings, decoder context, its key mask, what can be copied) from the four
        sensor tensors and any metadata, or from the precomputed pooled tokens (`generate`), with any metadata.
        A precomputed context without metadata is used as it is, metadata states included."""
        if sensor_context is not None:
            self._check_batch(sensor_context.shape[0], text_batch)
            pooled_tokens = self.config.num_caption_queries + int(self.config.caption_uses_contrastive_query)
            whole_context = sensor_context_mask is not None or sensor_context.shape[1] != pooled_tokens
            if metadata[0] is None and whole_context:
                return None, None, sensor_context, sensor_context_mask, None
            if whole_context:
                raise ValueError(
                    _PRECOMPUTED_WITH_METADATA.format(expected=pooled_tokens, got=sensor_context.shape[1])
                )
            return None, None, *self._with_metadata(sensor_context, *metadata)
        if sensor_context_mask is not None:
            raise ValueError(
                "sensor_context_mask goes with a precomputed sensor_context; pass both or neither."
            )
        if sensor_inputs[0] is not None:
            self._check_batch(sensor_inputs[0].shape[0], text_batch)
        sensor_output, pooled = self._encode_sensor(
            *sensor_inputs, output_attentions, output_hidden_states, sensor_token_index
        )
        context, context_mask, copy_source = self._with_metadata(self._caption_context(pooled), *metadata)
        return sensor_output, self._sensor_embeds(pooled), context, context_mask, copy_source

    def _caption_term(
        self,
        hidden_states: torch.Tensor,
        logits: torch.Tensor | None,
        copies: MetadataCopyScores | None,
        labels: torch.Tensor | None,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        packed: bool,
    ) -> torch.Tensor:
        """Next-token CE on `labels`, or on the caption itself (`caption_labels`) when none are given."""
        if labels is None:
            if input_ids is None or packed:
                raise ValueError(
                    "Pass labels to compute the caption loss from inputs_embeds or packed captions."
                )
            labels = caption_labels(input_ids, attention_mask)
        scored = hidden_states if logits is None else logits
        if labels.shape != scored.shape[:2]:
            raise ValueError(
                f"labels must have shape {tuple(scored.shape[:2])} (one per caption token), got "
                f"{tuple(labels.shape)}; computing a loss also needs logits_to_keep=0."
            )
        if logits is not None or copies is None:
            head = self._vocab_logits if logits is None else None
            return caption_loss(scored, labels, head=head, select_targets=not packed)
        select, targets = caption_targets(labels, select_targets=not packed)
        vocab_logits = self._vocab_logits(select(hidden_states))
        return copy_cross_entropy(vocab_logits, copies.map(select), targets.to(vocab_logits.device))

    @can_return_tuple
    @deprecated_cache_name
    def forward(
        self,
        sensor_values: torch.Tensor | None = None,
        sensor_mask: torch.Tensor | None = None,
        sensor_time: torch.Tensor | None = None,
        patch_size: torch.Tensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        sensor_context: torch.Tensor | None = None,
        sensor_context_mask: torch.Tensor | None = None,
        metadata_ids: torch.LongTensor | None = None,
        metadata_attention_mask: torch.Tensor | None = None,
        use_cache: bool | None = None,
        return_loss: bool = True,
        contrastive: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        skip_logits: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        past_key_values: Cache | None = None,
        sensor_token_index: torch.Tensor | None = None,
        cu_seq_lens_q: torch.Tensor | None = None,
        max_length_q: int | None = None,
        **kwargs: Any,
    ) -> SlipForConditionalGenerationOutput:
        """Caption logits and, with `return_loss`, the weighted sum of the contrastive and caption losses.

        Sensor inputs are the four processor tensors (with `metadata_ids` and `metadata_attention_mask` for a
        model with `config.series_metadata`), or the decoder's context precomputed: `sensor_context`, the pooled
        tokens of `get_sensor_context` with the metadata tensors, as `generate` passes them, or the whole context
        (the output's `sensor_context`, metadata states included) with its key mask `sensor_context_mask` (B, K):
        True for the pooled tokens, then `metadata_attention_mask` flattened. Which of the two was given is told by
        the width: the pooled tokens alone are `num_caption_queries` (+1 with `caption_uses_contrastive_query`).
        A model with `config.copy_metadata` needs `input_ids` and the metadata tensors,
        and its logits are those of the joint softmax over the vocabulary and the metadata tokens.
        `contrastive` (default: sensor inputs given, no KV cache in use and `config.contrastive_loss_weight > 0`)
        controls the text embedding and CLIP term.
        The caption loss is next-token CE on `labels`, or on `input_ids` with padding (attention_mask == 0)
        ignored when no labels are given. `skip_logits` (default: in training mode with `return_loss`) returns no
        `logits` and projects to the vocabulary only the positions the caption loss scores: a training step
        needs the loss, not (B, T, vocab) logits, most of which belong to padding and prompts.
        `output_attentions` returns the sensor encoder's attention maps (the text tower's are not collected);
        it and `output_hidden_states` default to the config's. `return_dict=False` (or `config.return_dict`)
        returns a tuple. Other keyword arguments go to the Gemma attention layers.
        `past_key_values` is the KV cache's name in transformers < 5.24 (its `generate` passes it so); from 5.24
        on it is deprecated there, and here, in favour of `cache`. `sensor_token_index`, packed captions
        (`position_ids`, `cu_seq_lens_q`, `max_length_q`, (1, N) labels) make the step padding-free
        (`modeling_slip.packing`; the pretraining collator builds them).
        """
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        cache = cache if cache is not None else past_key_values
        if skip_logits is None:
            skip_logits = self.training and return_loss
        if skip_logits and not return_loss:
            raise ValueError("skip_logits=True leaves nothing to return without return_loss=True.")
        packed = cu_seq_lens_q is not None
        sensor_output, sensor_embeds, sensor_context, context_mask, copy_source = self._encode_sensor_side(
            (sensor_values, sensor_mask, sensor_time, patch_size),
            sensor_context,
            sensor_context_mask,
            (metadata_ids, metadata_attention_mask),
            text_batch_size(input_ids if input_ids is not None else inputs_embeds, cu_seq_lens_q),
            output_attentions,
            output_hidden_states,
            sensor_token_index,
        )
        if contrastive is None:
            contrastive = (
                sensor_embeds is not None and cache is None and self.config.contrastive_loss_weight > 0
            )
        if contrastive and sensor_embeds is None:
            raise ValueError(
                "contrastive=True needs the raw sensor inputs, not a precomputed sensor_context."
            )
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config.text_config)

        text_output = self.text_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            sensor_context=sensor_context,
            sensor_context_mask=context_mask,
            run_decoder=True,
            output_hidden_states=output_hidden_states,
            cu_seq_lens_q=cu_seq_lens_q,
            max_length_q=max_length_q,
            **kwargs,
        )
        hidden_states = text_output.last_hidden_state
        copies = self._copy_scores(hidden_states, input_ids, copy_source, cu_seq_lens_q)
        logits = None if skip_logits else self._kept_logits(hidden_states, logits_to_keep, copies)

        text_embeds = logits_per_sensor = logits_per_text = scale = None
        if contrastive:
            text_embeds = self._text_embeds(text_output, attention_mask, cu_seq_lens_q)
            scale, logits_per_sensor, logits_per_text = self._contrastive_logits(sensor_embeds, text_embeds)

        loss = contrastive_term = caption_term = None
        if return_loss:
            caption_term = self._caption_term(
                hidden_states, logits, copies, labels, input_ids, attention_mask, packed
            )
            if contrastive:
                contrastive_term = clip_loss(sensor_embeds, text_embeds, scale)
            loss = weighted_loss(caption_term, contrastive_term, self.config)

        return SlipForConditionalGenerationOutput(
            loss=loss,
            contrastive_loss=contrastive_term,
            caption_loss=caption_term,
            logits=logits,
            logits_per_sensor=logits_per_sensor,
            logits_per_text=logits_per_text,
            sensor_embeds=sensor_embeds,
            text_embeds=text_embeds,
            logit_scale=scale,
            cache=text_output.cache,
            sensor_context=sensor_context,
            text_model_output=text_output,
            sensor_model_output=sensor_output,
        )

    def _update_model_kwargs_for_generation(
        self,
        outputs: SlipForConditionalGenerationOutput,
        model_kwargs: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Hand our `cache` output to the next decoding step under the name this transformers' `generate` uses
        (before 5.24 it only looks for `past_key_values`). Without a cache (`use_cache=False`) no cache entry is
        left behind: beam search takes an entry, even an empty one, for a cache it has to reorder."""
        model_kwargs = super()._update_model_kwargs_for_generation(outputs, model_kwargs, *args, **kwargs)
        if outputs.cache is None:
            model_kwargs.pop(CACHE_ARGUMENT, None)
        else:
            model_kwargs[CACHE_ARGUMENT] = outputs.cache
        return model_kwargs

    @torch.no_grad()
    def generate(
        self,
        sensor_values: torch.Tensor | None = None,
        sensor_mask: torch.Tensor | None = None,
        sensor_time: torch.Tensor | None = None,
        patch_size: torch.Tensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        sensor_context: torch.Tensor | None = None,
        metadata_ids: torch.LongTensor | None = None,
        metadata_attention_mask: torch.Tensor | None = None,
        **generate_kwargs: Any,
    ) -> Any:
        """Caption (or answer) sensor inputs with `GenerationMixin.generate` and a KV cache.

        The sensor encoder and the pooler run once; their tokens are reused at every step, with the series
        metadata (`config.series_metadata`), whose states every step rebuilds from the ids. `input_ids`
        is an optional prompt (left-padded, with its `attention_mask`); without it decoding starts from BOS.
        Returns the prompt followed by the generated tokens, as `generate` does for decoder-only models.
        """
        if sensor_context is None:
            sensor_context = self.get_sensor_context(sensor_values, sensor_mask, sensor_time, patch_size)
        if metadata_ids is not None:
            generate_kwargs.update(metadata_ids=metadata_ids, metadata_attention_mask=metadata_attention_mask)
        batch = sensor_context.shape[0]
        if input_ids is None:
            bos = self.generation_config.bos_token_id
            if bos is None:
                raise ValueError(
                    "No prompt given and the generation config has no bos_token_id; pass input_ids."
                )
            input_ids = torch.full((batch, 1), bos, dtype=torch.long, device=sensor_context.device)
        self._check_batch(batch, input_ids.shape[0])
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        elif bool((attention_mask[:, -1] == 0).any()):
            raise ValueError("Generation prompts must be left-padded (tokenizer.padding_side = 'left').")
        return super().generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            sensor_context=sensor_context,
            return_loss=False,
            contrastive=False,
            **generate_kwargs,
        )
