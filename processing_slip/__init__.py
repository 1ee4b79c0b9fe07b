"""Series and text -> SLIP model inputs: frequency parsing, patch-size policy, feature extractor, processor.

Importing this package registers the feature extractor and the processor with `AutoFeatureExtractor` and
`AutoProcessor`. It reads the model side's contract (`SlipConfig`, the input names, the label ignore index) from
`modeling_slip`, which never imports this package.
"""

from transformers import AutoFeatureExtractor, AutoProcessor

from modeling_slip import SlipConfig
from modeling_slip.losses import IGNORE_INDEX

from .feature_extraction_slip import NORMALIZATIONS, SlipFeatureExtractor
from .frequency import (
    DEFAULT_SECONDS_PER_STEP,
    DefaultFrequencyWarning,
    IrregularSamplingWarning,
    parse_frequency,
)
from .patch_policy import (
    PATCH_SIZE_CANDIDATES,
    PatchPlan,
    TruncationWarning,
    candidate_patch_sizes,
    choose_patch_size,
    frequency_class,
    plan_patches,
)
from .processing_slip import SlipProcessor
from .tokenization import GEMMA_CHAT_TEMPLATE, SPECIAL_TOKENS, train_caption_tokenizer

AutoFeatureExtractor.register(SlipConfig, SlipFeatureExtractor, exist_ok=True)
AutoProcessor.register(SlipConfig, SlipProcessor, exist_ok=True)

__all__ = [
    "DEFAULT_SECONDS_PER_STEP",
    "GEMMA_CHAT_TEMPLATE",
    "IGNORE_INDEX",
    "NORMALIZATIONS",
    "PATCH_SIZE_CANDIDATES",
    "SPECIAL_TOKENS",
    "DefaultFrequencyWarning",
    "IrregularSamplingWarning",
    "PatchPlan",
    "SlipFeatureExtractor",
    "SlipProcessor",
    "TruncationWarning",
    "candidate_patch_sizes",
    "choose_patch_size",
    "frequency_class",
    "parse_frequency",
    "plan_patches",
    "train_caption_tokenizer",
]
