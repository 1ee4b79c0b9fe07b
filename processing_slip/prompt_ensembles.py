"""Zero-shot class prompts and prompt ensembles, shared by the zero-shot pipeline and
`evaluation_slip.zero_shot`.

A class's embedding is the mean of its prompts' L2-normalised text embeddings, renormalised (the CLIP
prompt-ensemble recipe). Both users go through these functions so that a pipeline call and an evaluation run
score the same classes the same way. The module needs only torch, so the pipeline does not pull in the
evaluation extras.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

DEFAULT_HYPOTHESIS_TEMPLATE = "The sensor recording shows {}."
"""Turns a bare label into a caption-like sentence: the text tower was trained on descriptions of series, so a
sentence scores more reliably than a lone word (CLIP's "This is a photo of {}." plays the same part)."""

HypothesisTemplate = str | Sequence[str] | Mapping[str, Sequence[str]]


def class_prompts(
    candidate_labels: Sequence[str] | None, hypothesis_template: HypothesisTemplate | None = None
) -> dict[str, list[str]]:
    """Label -> its prompts, from the labels and a template, a list of templates, or a label -> prompts
    mapping.

    A template is formatted with each label (`"{}"` stands for the label). A mapping gives each label its own
    prompts, used verbatim (e.g. `hub_datasets.zero_shot_prompts(name)`); its keys are the labels when
    `candidate_labels` is None.
    """
    template = DEFAULT_HYPOTHESIS_TEMPLATE if hypothesis_template is None else hypothesis_template
    if isinstance(template, Mapping):
        labels = list(template) if candidate_labels is None else _label_list(candidate_labels)
        check_templates(template, labels)
        return {label: list(template[label]) for label in labels}
    labels = _label_list(candidate_labels)
    templates = [template] if isinstance(template, str) else list(template)
    if not templates or not all(isinstance(item, str) and "{}" in item for item in templates):
        raise ValueError(
            "hypothesis_template must be a string with a '{}' placeholder for the label (e.g. "
            f"{DEFAULT_HYPOTHESIS_TEMPLATE!r}), a non-empty list of such strings, or a dict label -> list of "
            "prompts."
        )
    return {label: [item.format(label) for item in templates] for label in labels}


def _label_list(candidate_labels: Sequence[str] | None) -> list[str]:
    if candidate_labels is None:
        raise ValueError(
            "Pass candidate_labels=[...] (the class names to score), e.g. "
            "candidate_labels=['walking', 'sitting']."
        )
    labels = [candidate_labels] if isinstance(candidate_labels, str) else list(candidate_labels)
    if not labels or not all(isinstance(label, str) and label for label in labels):
        raise ValueError("candidate_labels must be a non-empty list of non-empty strings.")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"candidate_labels holds {duplicates} more than once; pass each label once.")
    return labels


def check_templates(templates: Mapping[str, Sequence[str]], label_names: Sequence[str]) -> None:
    """Every label needs a non-empty list of prompt strings."""
    missing = [name for name in label_names if name not in templates]
    if missing:
        raise ValueError(
            f"no prompt templates for classes {missing}; pass templates={{label_name: [prompt, ...]}}."
        )
    empty = [
        name
        for name in label_names
        if isinstance(templates[name], str)
        or not len(templates[name])
        or not all(isinstance(prompt, str) for prompt in templates[name])
    ]
    if empty:
        raise ValueError(f"classes {empty} need a non-empty list of prompt strings, not a string or nothing.")


def flatten_prompts(
    templates: Mapping[str, Sequence[str]], label_names: Sequence[str]
) -> tuple[list[str], list[int]]:
    """All prompts in label order, and how many belong to each label (what `ensemble_embeddings` groups
    by)."""
    check_templates(templates, label_names)
    prompts = [prompt for name in label_names for prompt in templates[name]]
    return prompts, [len(templates[name]) for name in label_names]


def l2_normalize_rows(vectors: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm; an all-zero row is an error, not a silent NaN."""
    norms = vectors.norm(dim=-1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError("cannot normalise an all-zero embedding.")
    return vectors / norms


def ensemble_embeddings(prompt_embeddings: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """(K, p) class embeddings from (sum(counts), p) prompt embeddings grouped by `counts`: the mean of each
    group's normalised rows, renormalised."""
    if sum(counts) != len(prompt_embeddings) or min(counts, default=0) < 1:
        raise ValueError(
            f"counts {list(counts)} must be positive and add up to the {len(prompt_embeddings)} prompt "
            "embeddings."
        )
    groups = torch.split(l2_normalize_rows(prompt_embeddings), list(counts))
    return l2_normalize_rows(torch.stack([group.mean(dim=0) for group in groups]))
