"""`transformers` pipelines for SLIP: zero-shot classification, features and text from time series.

`import slip` registers three tasks with transformers' pipeline registry, so that `pipeline(task, model=DIR)`
loads the right model class and the `SlipProcessor` saved beside it:

- "zero-shot-time-series-classification": `SlipModel` (AutoModel); `[{"label", "score"}]`, best first;
- "time-series-feature-extraction": `SlipModel` (AutoModel); an embedding, a mean token feature, or the
  encoder's tokens with their mask;
- "time-series-to-text": `SlipForConditionalGeneration` (AutoModelForCausalLM); `[{"generated_text"}]`.

Inputs: one series in any form the processor takes (numpy or torch (L,) or (C, L), a list of numbers, a pandas
Series or DataFrame, whose DatetimeIndex gives the frequency), a batch of them (any other list, one series per
item, lengths and channel counts free; or a (B, C, L) array or tensor), or a long-format DataFrame (`id`,
`timestamp`, value columns), which gives a dict id -> result in the order the ids first appear. One series
gives one result, a batch a list of results; a generator or a torch Dataset of series streams results lazily,
as transformers pipelines do.

Batching: series differ in length and channel count, and the processor pads a batch by its own layout rules,
so `preprocess` passes each series through untouched and `_forward` runs the processor on the whole batch.
Results with `batch_size > 1` therefore equal those with `batch_size=1`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from tqdm.auto import tqdm
from transformers import AutoModel, AutoModelForCausalLM, GenerationConfig, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.pt_utils import PipelineDataset, PipelineIterator

from modeling_slip.sensor_inputs import SENSOR_INPUT_KEYS
from processing_slip import SlipProcessor
from processing_slip.long_format import long_to_series
from processing_slip.prompt_ensembles import class_prompts, ensemble_embeddings, flatten_prompts

ZERO_SHOT_TASK = "zero-shot-time-series-classification"
FEATURE_EXTRACTION_TASK = "time-series-feature-extraction"
TEXT_TASK = "time-series-to-text"

POOLINGS = {"embedding": "get_sensor_features", "mean": "get_mean_token_features"}
"""`pooling=` -> model method: the L2-normalised contrastive embedding (zero-shot, retrieval), or the mean of
the encoder's valid tokens (the linear-probe feature)."""

RETURN_TENSORS = (None, False, True, "np", "pt")

LOADER_OPTIONS = ("local_files_only",)
"""Keyword arguments `transformers.pipeline` hands on to the pipeline class although they only concern
loading; the pipelines accept and ignore them."""

GENERATION_KEYS = frozenset(key for key in vars(GenerationConfig()) if not key.startswith("_"))

Series = Any


@dataclass(frozen=True)
class SeriesItem:
    """One series and the options given for it alone; None falls back to the value shared by the call."""

    series: Series
    freq: Any = None
    channel_names: Sequence[str] | None = None
    prompt: Any = None


def _is_scalar(value: Any) -> bool:
    return np.isscalar(value) and not isinstance(value, (str, bytes))


def _is_conversation(value: Any) -> bool:
    """A chat conversation: a non-empty list of {"role", "content"} messages."""
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(message, dict) and "role" in message for message in value)
    )


def _is_per_series(name: str, value: Any) -> bool:
    """Whether an option value lists one entry per series rather than one value for all of them."""
    if name == "channel_names":
        return isinstance(value, (list, tuple)) and not all(isinstance(item, str) for item in value)
    if name == "prompt":
        return isinstance(value, (list, tuple)) and not _is_conversation(value)
    return isinstance(value, (list, tuple))


def split_batch(inputs: Any) -> list[Series] | None:
    """The series of a batch input, or None when `inputs` is one series."""
    if isinstance(inputs, (pd.DataFrame, pd.Series)):
        return None
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        if inputs.ndim in (1, 2):
            return None
        if inputs.ndim == 3:
            return list(inputs)
        raise ValueError(
            f"an array of {inputs.ndim} dimensions (shape {tuple(inputs.shape)}) is no series; pass (L,) or "
            "(C, L) for one series, (B, C, L) or a list of series for a batch."
        )
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise ValueError("the input is an empty list; pass at least one series.")
        return None if all(_is_scalar(value) for value in inputs) else list(inputs)
    raise ValueError(
        f"inputs of type {type(inputs).__name__} are not supported; pass a numpy array, torch tensor, list, "
        "pandas Series or DataFrame (wide with a DatetimeIndex, or long with id and timestamp columns), or a "
        "list of those."
    )


def _option_values(name: str, value: Any, count: int) -> list[Any]:
    """One value per series: a per-series list checked for its length, or a shared value repeated."""
    if not _is_per_series(name, value):
        return [value] * count
    if len(value) != count:
        raise ValueError(
            f"{name} has {len(value)} entries for {count} series; pass one {name} per series, or one shared "
            "value."
        )
    return list(value)


def series_items(series: Sequence[Series], options: Mapping[str, Any]) -> list[SeriesItem]:
    """Wrap each series with its own share of the call's options."""
    columns = {name: _option_values(name, value, len(series)) for name, value in options.items()}
    return [
        SeriesItem(item, **{name: values[index] for name, values in columns.items()})
        for index, item in enumerate(series)
    ]


def _collate(batch: list[dict[str, list[SeriesItem]]]) -> dict[str, list[SeriesItem]]:
    """Join preprocessed series into one batch; the processor pads them in `_forward`."""
    return {"items": [item for entry in batch for item in entry["items"]]}


def _per_series_values(items: Sequence[SeriesItem], name: str) -> list[Any] | None:
    """The per-series values of option `name`, or None when no series has one."""
    values = [getattr(item, name) for item in items]
    if all(value is None for value in values):
        return None
    if any(value is None for value in values):
        raise ValueError(f"some series have a {name} and others not; give every series a {name} or none.")
    return values


def _as_output(tensor: torch.Tensor, return_tensors: bool | str | None) -> np.ndarray | torch.Tensor:
    """A torch tensor for return_tensors True / "pt", else numpy (bfloat16, which numpy lacks, as float32)."""
    if return_tensors in (True, "pt"):
        return tensor
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


class SlipSeriesPipeline(Pipeline):
    """What the SLIP pipelines share: every series input form, per-series options, batching ragged series
    through the processor, a progress bar over batched calls, and results keyed by id for long frames.

    Args (besides `transformers.Pipeline`'s):
        progress_bar (`bool`, *optional*): show a tqdm bar over the series of a list input; by default shown
            when the list spans more than one batch.
        id_column, timestamp_column, target_columns: how a long-format DataFrame names its columns
            (`processing_slip.long_format.long_to_series`); a DataFrame with an `id_column` column is long.
    """

    _load_processor = None
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_video_processor = False
    _per_series_options: tuple[str, ...] = ("freq", "channel_names")

    def __init__(
        self,
        *args: Any,
        progress_bar: bool | None = None,
        id_column: str = "id",
        timestamp_column: str = "timestamp",
        target_columns: Sequence[str] | None = None,
        **kwargs: Any,
    ):
        self.progress_bar = progress_bar
        self.long_format = {
            "id_column": id_column,
            "timestamp_column": timestamp_column,
            "target_columns": target_columns,
        }
        self._call_progress_bar = progress_bar
        super().__init__(*args, **kwargs)
        self.processor = self._slip_processor()
        self.tokenizer = self.processor.tokenizer
        self.feature_extractor = self.processor.feature_extractor

    def _slip_processor(self) -> SlipProcessor:
        """The pipeline's processor: the one given or loaded, else one built from a feature extractor and a
        tokenizer; its text layout must be the model's."""
        processor = self.processor
        if processor is None and self.feature_extractor is not None and self.tokenizer is not None:
            layout = getattr(self.model.config, "text_layout", "slip")
            processor = SlipProcessor(self.feature_extractor, self.tokenizer, text_layout=layout)
        if not isinstance(processor, SlipProcessor):
            raise ValueError(
                f"The {self.task or 'SLIP'} pipeline needs a SlipProcessor; none was found with the model. "
                "Pass processor=AutoProcessor.from_pretrained(DIR) (or feature_extractor= and tokenizer=)."
            )
        model_layout = getattr(self.model.config, "text_layout", processor.text_layout)
        if processor.text_layout != model_layout:
            raise ValueError(
                f"The processor lays text out as {processor.text_layout!r} but the model reads "
                f"{model_layout!r}; load the processor saved with this model."
            )
        return processor

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Run the pipeline on one series, a batch, a long-format DataFrame or a stream (module docstring).

        `freq` and `channel_names` go to the processor, shared by all series or one entry per series;
        `batch_size` series go through the model at a time; `progress_bar` overrides the pipeline's setting.
        """
        self._call_progress_bar = kwargs.pop("progress_bar", self.progress_bar)
        long_format = {**self.long_format, **{k: kwargs.pop(k) for k in self.long_format if k in kwargs}}
        if isinstance(inputs, (Iterator, TorchDataset)):
            return super().__call__(inputs, **kwargs)
        options = {name: kwargs.pop(name) for name in self._per_series_options if name in kwargs}
        if isinstance(inputs, pd.DataFrame) and long_format["id_column"] in inputs.columns:
            ids, frames = long_to_series(inputs, **long_format)
            return dict(zip(ids, super().__call__(series_items(frames, options), **kwargs)))
        batch = split_batch(inputs)
        if batch is None:
            return super().__call__(series_items([inputs], options)[0], **kwargs)
        return super().__call__(series_items(batch, options), **kwargs)

    def _shared_options(self, **options: Any) -> dict[str, Any]:
        """Preprocess parameters: options shared by all series; anything else is an error that names it."""
        unknown = sorted(set(options) - set(self._per_series_options) - set(LOADER_OPTIONS))
        if unknown:
            raise ValueError(
                f"Unexpected arguments {unknown} for the {self.task} pipeline; it takes "
                f"{sorted(self._per_series_options)} besides its own options."
            )
        shared = {name: options[name] for name in self._per_series_options if options.get(name) is not None}
        per_series = [name for name, value in shared.items() if _is_per_series(name, value)]
        if per_series:
            raise ValueError(
                f"{per_series} list one value per series, which needs a list of series as input at call "
                "time; pass one shared value here."
            )
        return shared

    def preprocess(self, inputs: Any, **shared: Any) -> dict[str, list[SeriesItem]]:
        """Keep the series as it is (the processor pads whole batches in `_forward`); fill in shared
        options."""
        item = inputs if isinstance(inputs, SeriesItem) else SeriesItem(inputs)
        names = {field.name for field in fields(SeriesItem)}
        defaults = {
            name: value for name, value in shared.items() if name in names and getattr(item, name) is None
        }
        return {"items": [replace(item, **defaults)]}

    def _model_inputs(self, items: Sequence[SeriesItem], **text: Any) -> dict[str, torch.Tensor]:
        """Processor output for a batch of series (and `text` for the tokenizer), on the model's device,
        floats in the model's dtype."""
        features = self.processor(
            series=[item.series for item in items],
            freq=[item.freq for item in items],
            channel_names=_per_series_values(items, "channel_names"),
            return_tensors="pt",
            **text,
        )
        return {
            key: value.to(self.device, dtype=self.dtype if value.is_floating_point() else value.dtype)
            for key, value in features.items()
        }

    def get_iterator(
        self,
        inputs: Iterable[Any],
        num_workers: int,
        batch_size: int,
        preprocess_params: dict[str, Any],
        forward_params: dict[str, Any],
        postprocess_params: dict[str, Any],
    ) -> Iterator[Any]:
        """transformers' iterator with the SLIP collate (raw series, padded by the processor) and one progress
        bar over all series."""
        sized = isinstance(inputs, Sized)
        if sized:
            dataset = PipelineDataset(inputs, self.preprocess, preprocess_params)
        else:
            # transformers' rule for iterable inputs: more than one worker would split and reorder the stream.
            num_workers = min(num_workers, 1)
            dataset = PipelineIterator(inputs, self.preprocess, preprocess_params)
        loader = DataLoader(dataset, num_workers=num_workers, batch_size=batch_size, collate_fn=_collate)
        outputs = PipelineIterator(loader, self.forward, forward_params, loader_batch_size=batch_size)
        results = PipelineIterator(outputs, self.postprocess, postprocess_params)
        total = len(inputs) if sized else None
        show = self._call_progress_bar
        if show is None:
            show = total is None or total > batch_size
        return iter(tqdm(results, total=total, disable=not show, desc=self.task, unit="series"))


class ZeroShotTimeSeriesClassificationPipeline(SlipSeriesPipeline):
    """Zero-shot classification of time series with a SLIP dual encoder, like CLIP's image pipeline.

    Each candidate label becomes one prompt (`hypothesis_template`, default
    `processing_slip.prompt_ensembles.DEFAULT_HYPOTHESIS_TEMPLATE`) or several (a list of templates, or a
    dict label -> prompts such as `hub_datasets.zero_shot_prompts(name)`; the prompts of a label are averaged
    into one class embedding). Scores are the softmax over the labels of the model's scaled cosine
    similarities.

    Example:

    ```python
    >>> classifier = pipeline("zero-shot-time-series-classification", model="outputs/quickstart")
    >>> classifier(imu, freq="50Hz", candidate_labels=["walking", "sitting", "lying"])
    [{'label': 'walking', 'score': ...}, {'label': 'lying', 'score': ...}, {'label': 'sitting', 'score': ...}]
    ```
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._class_embeddings_cache: dict[tuple, torch.Tensor] = {}

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Classify series against `candidate_labels` (list of str) with an optional `hypothesis_template`
        (str with "{}", list of those, or dict label -> prompts; with a dict the labels default to its
        keys)."""
        labels = kwargs.get("candidate_labels", self._forward_params.get("candidate_labels"))
        template = kwargs.get("hypothesis_template", self._forward_params.get("hypothesis_template"))
        class_prompts(labels, template)
        # The text tower runs once per call; a new call may follow a change of the weights.
        self._class_embeddings_cache.clear()
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(
        self, candidate_labels: Sequence[str] | None = None, hypothesis_template: Any = None, **options: Any
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        labels = {}
        if candidate_labels is not None:
            labels["candidate_labels"] = candidate_labels
        if hypothesis_template is not None:
            labels["hypothesis_template"] = hypothesis_template
        return self._shared_options(**options), labels, dict(labels)

    def _class_embeddings(self, prompts: Mapping[str, Sequence[str]]) -> torch.Tensor:
        """(K, p) class embeddings: each label's prompts embedded and ensembled, once per call."""
        key = tuple((label, tuple(texts)) for label, texts in prompts.items())
        if key not in self._class_embeddings_cache:
            texts, counts = flatten_prompts(prompts, list(prompts))
            encoded = self.processor(text=texts, padding=True, return_tensors="pt")
            embeddings = self.model.get_text_features(
                input_ids=encoded["input_ids"].to(self.device),
                attention_mask=encoded["attention_mask"].to(self.device),
            )
            self._class_embeddings_cache[key] = ensemble_embeddings(embeddings.float(), counts)
        return self._class_embeddings_cache[key]

    def _forward(
        self,
        model_inputs: dict[str, list[SeriesItem]],
        candidate_labels: Sequence[str] | None = None,
        hypothesis_template: Any = None,
    ) -> dict[str, torch.Tensor]:
        classes = self._class_embeddings(class_prompts(candidate_labels, hypothesis_template))
        sensor = self.model.get_sensor_features(**self._model_inputs(model_inputs["items"])).float()
        logits = self.model.scaled_logit_scale().float() * sensor @ classes.T
        return {"scores": logits.softmax(dim=-1)}

    def postprocess(
        self,
        model_outputs: dict[str, torch.Tensor],
        candidate_labels: Sequence[str] | None = None,
        hypothesis_template: Any = None,
    ) -> list[dict[str, Any]]:
        labels = list(class_prompts(candidate_labels, hypothesis_template))
        scores = model_outputs["scores"][0].tolist()
        ranked = sorted(zip(scores, labels), key=lambda pair: -pair[0])
        return [{"label": label, "score": score} for score, label in ranked]


class TimeSeriesFeatureExtractionPipeline(SlipSeriesPipeline):
    """Features of time series from a SLIP model.

    - `pooling="embedding"` (default): the L2-normalised contrastive embedding (`get_sensor_features`),
      shape (projection_dim,);
    - `pooling="mean"`: the mean of the encoder's valid tokens (`get_mean_token_features`), the linear-probe
      feature, shape (hidden_size,);
    - `return_tokens=True`: the encoder's tokens `{"last_hidden_state": (C, P, hidden_size), "token_mask":
      (C, P)}` for the series' own C channels and P patches (padding of the batch cut away; the mask is False
      for patches without an observed value).

    Results are numpy arrays, or torch tensors with `return_tensors=True` (or "pt").
    """

    def _sanitize_parameters(
        self,
        pooling: str | None = None,
        return_tokens: bool | None = None,
        return_tensors: bool | str | None = None,
        **options: Any,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        forward, post = {}, {}
        if pooling is not None:
            if pooling not in POOLINGS:
                raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, got {pooling!r}.")
            forward["pooling"] = pooling
        if return_tokens is not None:
            forward["return_tokens"] = post["return_tokens"] = bool(return_tokens)
        if return_tensors is not None:
            if return_tensors not in RETURN_TENSORS:
                raise ValueError(f"return_tensors must be one of {RETURN_TENSORS}, got {return_tensors!r}.")
            post["return_tensors"] = return_tensors
        return self._shared_options(**options), forward, post

    def _forward(
        self,
        model_inputs: dict[str, list[SeriesItem]],
        pooling: str = "embedding",
        return_tokens: bool = False,
    ) -> dict[str, torch.Tensor]:
        inputs = self._model_inputs(model_inputs["items"])
        if not return_tokens:
            return {"features": getattr(self.model, POOLINGS[pooling])(**inputs)}
        output = self.model.sensor_model(*(inputs[key] for key in SENSOR_INPUT_KEYS))  # not series metadata
        batch, channels, patches = inputs["sensor_values"].shape[:3]
        real_steps = inputs["sensor_time"] > 0
        return {
            "last_hidden_state": output.last_hidden_state.view(batch, channels, patches, -1),
            "token_mask": output.token_mask.view(batch, channels, patches),
            "num_channels": real_steps.flatten(2).any(dim=-1).sum(dim=1),
            "num_patches": real_steps.any(dim=-1).any(dim=1).sum(dim=1),
        }

    def postprocess(
        self,
        model_outputs: dict[str, torch.Tensor],
        return_tokens: bool = False,
        return_tensors: bool | str | None = None,
    ) -> np.ndarray | torch.Tensor | dict[str, np.ndarray | torch.Tensor]:
        if not return_tokens:
            return _as_output(model_outputs["features"][0], return_tensors)
        channels, patches = int(model_outputs["num_channels"][0]), int(model_outputs["num_patches"][0])
        # Series are left padded to the batch's patch count, so a series' own patches are the last ones.
        own = (slice(None, channels), slice(-patches, None))
        return {
            "last_hidden_state": _as_output(model_outputs["last_hidden_state"][0][own], return_tensors),
            "token_mask": _as_output(model_outputs["token_mask"][0][own], return_tensors),
        }


class TimeSeriesToTextPipeline(SlipSeriesPipeline):
    """Captions of time series, or answers to a `prompt`, from a SLIP CoCa model with `generate`.

    `prompt` is one question (a string or a chat conversation) for every series or a list with one per
    series; without it the model captions from <bos>. `max_new_tokens`, `generate_kwargs` and any generation
    parameter (`do_sample`, `num_beams`, ...) go to `generate`. Each series gives a list of
    `{"generated_text"}` (one per returned sequence), without the prompt and special tokens.
    """

    _pipeline_calls_generate = True
    # Corpus captions and QA answers fit in 64 new tokens; `evaluation_slip.generation` uses the same budget.
    _default_generation_config = GenerationConfig(max_new_tokens=64)
    _per_series_options = ("freq", "channel_names", "prompt")

    def __init__(self, *args: Any, **kwargs: Any):
        model = kwargs.get("model", args[0] if args else None)
        if model is None or not model.can_generate():
            raise ValueError(
                f"The {TEXT_TASK} pipeline needs a model that generates (SlipForConditionalGeneration), got "
                f"{type(model).__name__}; load it with AutoModelForCausalLM or "
                f"pipeline('{TEXT_TASK}', model=DIR)."
            )
        super().__init__(*args, **kwargs)

    def _sanitize_parameters(
        self,
        max_new_tokens: int | None = None,
        generate_kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        generation = dict(generate_kwargs or {})
        direct = {name: options.pop(name) for name in list(options) if name in GENERATION_KEYS}
        if max_new_tokens is not None:
            direct["max_new_tokens"] = max_new_tokens
        twice = sorted(set(direct) & set(generation))
        if twice:
            raise ValueError(f"{twice} given both directly and in generate_kwargs; pass each once.")
        generation.update(direct)
        forward = {"generate_kwargs": generation} if generation else {}
        return self._shared_options(**options), forward, {}

    def _forward(
        self, model_inputs: dict[str, list[SeriesItem]], generate_kwargs: Mapping[str, Any] | None = None
    ) -> dict[str, torch.Tensor]:
        items = model_inputs["items"]
        prompts = _per_series_values(items, "prompt")
        inputs = self._model_inputs(items, **({} if prompts is None else {"prompts": prompts}))
        settings = self._prepare_generate_kwargs(dict(generate_kwargs or {}), return_dict_in_generate=False)
        sequences = self.model.generate(**inputs, **settings)
        # `generate` returns the prompt (or the <bos> it starts from) before the new tokens.
        start = inputs["input_ids"].shape[1] if "input_ids" in inputs else 1
        new_tokens = sequences[:, start:]
        return {"generated_ids": new_tokens.reshape(len(items), -1, new_tokens.shape[-1])}

    def postprocess(self, model_outputs: dict[str, torch.Tensor]) -> list[dict[str, str]]:
        texts = self.processor.batch_decode(model_outputs["generated_ids"][0], skip_special_tokens=True)
        return [{"generated_text": text.strip()} for text in texts]


PIPELINES: dict[str, tuple[type[Pipeline], type]] = {
    ZERO_SHOT_TASK: (ZeroShotTimeSeriesClassificationPipeline, AutoModel),
    FEATURE_EXTRACTION_TASK: (TimeSeriesFeatureExtractionPipeline, AutoModel),
    TEXT_TASK: (TimeSeriesToTextPipeline, AutoModelForCausalLM),
}


def register_pipelines() -> None:
    """Register the SLIP tasks with transformers' pipeline registry (what `import slip` does)."""
    for task, (pipeline_class, model_class) in PIPELINES.items():
        registered = PIPELINE_REGISTRY.supported_tasks.get(task, {}).get("impl")
        if registered is not pipeline_class:
            PIPELINE_REGISTRY.register_pipeline(
                task, pipeline_class=pipeline_class, pt_model=model_class, type="multimodal"
            )
