"""BERTScore F1 when the `bert-score` package and the model's weights are available locally; an offline
local `evaluate` module that reports itself as skipped (with the reason) instead of downloading."""

import importlib.util
import json
import os

import datasets
import evaluate

_DESCRIPTION = """BERTScore (Zhang et al. 2020) from the `bert-score` package, mean F1 over predictions. It never
downloads: when the package is missing or the model's weights are neither a local directory nor in the
Hugging Face cache, it returns {"bertscore": None, "skipped": reason}."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated captions.
    references: list of reference captions, or list of lists of references (best reference counts).
    model_type: Hub id (must already be cached) or local model directory. Default "roberta-large", the
        package's English default.
    num_layers: layer whose token embeddings are compared; default: the package's table for Hub ids, the
        last layer for local directories.
    batch_size, device: as in `bert_score.score`.
Returns:
    bertscore (mean F1), bertscore_precision, bertscore_recall, model_type, num_layers; or bertscore=None and
    skipped (why it could not run).
"""

DEFAULT_MODEL = "roberta-large"


def _weights_available(model_type: str) -> str | None:
    """None when the weights can be loaded offline, else the reason they cannot."""
    if os.path.isdir(model_type):
        return None
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(model_type, "config.json"), str):
        return f"no local weights for {model_type!r} (not a directory and not in the Hugging Face cache)"
    for weights in ("model.safetensors", "pytorch_model.bin"):
        if isinstance(try_to_load_from_cache(model_type, weights), str):
            return None
    return f"the Hugging Face cache holds the config of {model_type!r} but not its weights"


def _default_layers(model_type: str) -> int:
    if os.path.isdir(model_type):
        with open(os.path.join(model_type, "config.json")) as handle:
            return int(json.load(handle)["num_hidden_layers"])
    from bert_score.utils import model2layers

    if model_type not in model2layers:
        raise ValueError(f"pass num_layers= for {model_type!r}; bert-score has no default layer for it.")
    return model2layers[model_type]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Bertscore(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Zhang et al., BERTScore: Evaluating Text Generation with BERT, ICLR 2020.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string"),
                        "references": datasets.Sequence(datasets.Value("string")),
                    }
                ),
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
                ),
            ],
        )

    def _compute(
        self, predictions, references, model_type=DEFAULT_MODEL, num_layers=None, batch_size=64, device="cpu"
    ):
        if importlib.util.find_spec("bert_score") is None:
            return {
                "bertscore": None,
                "skipped": "the bert-score package is not installed (pip install bert-score)",
            }
        reason = _weights_available(model_type)
        if reason is not None:
            return {"bertscore": None, "skipped": reason}
        from bert_score import score

        num_layers = num_layers if num_layers is not None else _default_layers(model_type)
        nested = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
        precision, recall, f1 = score(
            list(predictions),
            nested,
            model_type=model_type,
            num_layers=num_layers,
            batch_size=batch_size,
            device=device,
        )
        return {
            "bertscore": float(f1.mean()),
            "bertscore_precision": float(precision.mean()),
            "bertscore_recall": float(recall.mean()),
            "model_type": model_type,
            "num_layers": num_layers,
        }
