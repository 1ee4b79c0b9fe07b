"""SLIP models for `transformers`; importing this package registers the configs and models with the Auto classes.

- `AutoConfig`: model types "slip" (`SlipConfig`) and "slip_sensor" (`SlipSensorConfig`).
- `AutoModel` -> `SlipModel` (dual encoder: embeddings, zero-shot, retrieval, probing features).
- `AutoModelForCausalLM` -> `SlipForConditionalGeneration` (CoCa: captions and answers via `generate`).
  The generation model is a causal language model conditioned on extra inputs, which is how
  `transformers` files multimodal decoder-only generators too (Gemma3ForConditionalGeneration and Mllama
  are in the `AutoModelForCausalLM` mapping); the image- and speech-specific Auto classes do not fit sensors,
  and `AutoModelForSeq2SeqLM` implies an encoder-decoder with `decoder_input_ids`, which SLIP is not.

The package imports nothing else of this project: saved checkpoints carry `auto_map` and a copy of these
module files, so `AutoModel.from_pretrained(path, trust_remote_code=True)` also works where the package is not
installed. `import slip` registers the processor and the pipelines as well.
"""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from .configuration_slip import SlipConfig, SlipSensorConfig
from .modeling_base import SlipPreTrainedModel, count_parameters
from .modeling_outputs import SlipForConditionalGenerationOutput, SlipOutput
from .modeling_slip import SlipForConditionalGeneration, SlipModel
from .text_tower import gemma3_to_slip_state_dict

AutoConfig.register(SlipConfig.model_type, SlipConfig, exist_ok=True)
AutoConfig.register(SlipSensorConfig.model_type, SlipSensorConfig, exist_ok=True)
AutoModel.register(SlipConfig, SlipModel, exist_ok=True)
AutoModelForCausalLM.register(SlipConfig, SlipForConditionalGeneration, exist_ok=True)
SlipConfig.register_for_auto_class()
SlipModel.register_for_auto_class("AutoModel")
SlipForConditionalGeneration.register_for_auto_class("AutoModelForCausalLM")

__all__ = [
    "SlipConfig",
    "SlipSensorConfig",
    "SlipPreTrainedModel",
    "SlipModel",
    "SlipForConditionalGeneration",
    "SlipOutput",
    "SlipForConditionalGenerationOutput",
    "count_parameters",
    "gemma3_to_slip_state_dict",
]
