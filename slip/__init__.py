"""SLIP, Hugging Face-native: `import slip` makes every SLIP class loadable through the Auto classes.

It registers the configs and models (`modeling_slip`) and the feature extractor and processor
(`processing_slip`) with `AutoConfig`, `AutoModel`, `AutoModelForCausalLM`, `AutoFeatureExtractor` and
`AutoProcessor`, and re-exports the classes a user needs.
"""

from modeling_slip import (
    SlipConfig,
    SlipForConditionalGeneration,
    SlipModel,
    SlipSensorConfig,
    count_parameters,
)
from processing_slip import SlipFeatureExtractor, SlipProcessor, train_caption_tokenizer

from .pipelines import register_pipelines

register_pipelines()

__all__ = [
    "SlipConfig",
    "SlipSensorConfig",
    "SlipModel",
    "SlipForConditionalGeneration",
    "SlipFeatureExtractor",
    "SlipProcessor",
    "count_parameters",
    "train_caption_tokenizer",
]
