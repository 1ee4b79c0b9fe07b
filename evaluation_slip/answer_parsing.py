"""Robust answer parsing and scoring for SLIP question answering.

The reference scorers matched substrings ("sitting" is found in "not sitting", "walking" in "walking
upstairs"). The rules here, for every task:

- Answer segment: text after the LAST answer marker ("answer:", "answer is", "final answer:"), so a model
  that revises itself is scored on its final answer. Inside a marked segment the FIRST answer found counts
  (what follows is usually justification); without a marker the LAST answer in the text counts
  (chain-of-thought ends with the conclusion). A marked segment with nothing parseable falls back to the
  whole text.
- Phrases (choice texts, activity names) match whole words after lowercasing and replacing punctuation,
  "_" and "-" with spaces. A match inside a longer match is dropped ("walking" inside "walking upstairs").
- Negation, conservatively: a mention preceded, within 3 words of the same clause, by a negation cue ("not",
  "no", "never", "isn't", "rather than", "instead of", ...) is discarded. "not sitting" alone parses to
  nothing (scored wrong), never to "sitting". Clause boundaries are , ; . : ! ? and brackets.
- Multiple choice: "(B)", "B)", "B.", "B:", "option B", "Answer: b", a lone "B", or the option's text;
  letters beyond the number of options are ignored; a bare letter right after a marker counts only when
  punctuation or the end follows it ("Answer: a" is option A, "Answer: a flat line" is matched as text).
- Unparseable predictions count as wrong; `parsed_fraction` reports how many parsed at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

TASKS = ("auto", "choice", "activity", "yes_no", "number", "exact")

ANSWER_MARKER = re.compile(r"\b(?:final\s+)?answer\s*(?:is\s*:?|:|=|-)", re.IGNORECASE)
NEGATIONS = frozenset(
    "not no never neither nor cannot cant isnt arent wasnt werent doesnt dont didnt without unlike hardly".split()
)
NEGATION_PHRASES = (("rather", "than"), ("instead", "of"), ("other", "than"))
NEGATION_WINDOW = 3
CLAUSE_BREAK = "|"

HAR_SYNONYMS: dict[str, tuple[str, ...]] = {
    "walking": ("walking", "walk", "walks"),
    "walking upstairs": (
        "walking upstairs",
        "upstairs",
        "walking up stairs",
        "walking up the stairs",
        "going upstairs",
        "going up stairs",
        "climbing stairs",
        "climbing up stairs",
        "ascending stairs",
        "stairs up",
    ),
    "walking downstairs": (
        "walking downstairs",
        "downstairs",
        "walking down stairs",
        "walking down the stairs",
        "going downstairs",
        "going down stairs",
        "descending stairs",
        "stairs down",
    ),
    "sitting": ("sitting", "sit", "sits", "seated"),
    "standing": ("standing", "stand", "stands"),
    "laying": ("laying", "lying", "lie", "lies", "laying down", "lying down"),
}
"""UCI-HAR activity names (normalised) -> phrases that mean them; "lying" and "laying" are one class."""

_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
_LETTER_PATTERNS = (
    re.compile(r"\(([A-Za-z])\)"),
    re.compile(r"(?<![\w(])([A-Z])[).:](?=\s|$)"),
    re.compile(r"\b(?:option|choice)\s+\(?([A-Za-z])\b\)?", re.IGNORECASE),
)
_LEADING_LETTER = re.compile(r"^\s*\(?([A-Za-z])(?:[).:,]|\s*$)")


def normalize_text(text: str) -> str:
    """Lowercase; apostrophes dropped; "_"/"-" -> space; clause punctuation -> " | "; other symbols removed."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    text = re.sub(r"[_\-/]", " ", text)
    text = re.sub(r"[,;.:!?()\[\]{}\n]", f" {CLAUSE_BREAK} ", text)
    text = re.sub(r"[^\w\s|]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _segments(text: str) -> tuple[list[str], bool]:
    """(segments to search in order, whether the first is a marked answer segment)."""
    markers = list(ANSWER_MARKER.finditer(text))
    if markers:
        return [text[markers[-1].end() :], text], True
    return [text], False


def _is_negated(tokens: list[str], start: int) -> bool:
    window: list[str] = []
    for token in reversed(tokens[max(0, start - NEGATION_WINDOW) : start]):
        if token == CLAUSE_BREAK:
            break
        window.insert(0, token)
    if any(token in NEGATIONS for token in window):
        return True
    pairs = set(zip(window, window[1:]))
    return any(phrase in pairs for phrase in NEGATION_PHRASES)


def _phrase_matches(segment: str, phrases: Mapping[str, Any]) -> list[tuple[int, int, Any]]:
    """Non-negated, maximal whole-word matches (token start, token end, value) of `phrases` in `segment`."""
    tokens = normalize_text(segment).split()
    found = []
    for phrase, value in phrases.items():
        words = normalize_text(phrase).split()
        if not words:
            continue
        for start in range(len(tokens) - len(words) + 1):
            if tokens[start : start + len(words)] == words and not _is_negated(tokens, start):
                found.append((start, start + len(words), value))
    return [
        match
        for match in found
        if not any(
            o[0] <= match[0] and match[1] <= o[1] and (o[1] - o[0]) > (match[1] - match[0]) for o in found
        )
    ]


def _pick(matches: list[tuple[int, Any]], marked: bool) -> Any:
    if not matches:
        return None
    matches.sort(key=lambda match: match[0])
    return matches[0][1] if marked else matches[-1][1]


def _search(text: str, find) -> Any:
    """Run `find(segment, marked) -> value | None` over the answer segment, then the whole text."""
    segments, marked = _segments(text)
    for index, segment in enumerate(segments):
        value = find(segment, marked and index == 0)
        if value is not None:
            return value
    return None


def parse_choice(text: str, choices: Sequence[str]) -> int | None:
    """Index of the option `text` picks (by letter or by option text), or None."""
    if not choices:
        raise ValueError("parse_choice needs the list of options.")

    def find(segment: str, marked: bool) -> int | None:
        matches: list[tuple[int, int]] = []
        for pattern in _LETTER_PATTERNS:
            for match in pattern.finditer(segment):
                matches.append((match.start(), ord(match.group(1).upper()) - ord("A")))
        leading = _LEADING_LETTER.match(segment)
        lone = re.fullmatch(r"\W*([A-Z])\W*", segment)
        if marked and leading:
            matches.append((leading.start(1), ord(leading.group(1).upper()) - ord("A")))
        elif lone:
            matches.append((lone.start(1), ord(lone.group(1)) - ord("A")))
        letters = [(position, index) for position, index in matches if 0 <= index < len(choices)]
        if letters:
            return _pick(letters, marked)
        texts = _phrase_matches(segment, {choice: index for index, choice in enumerate(choices)})
        return _pick([(start, index) for start, _, index in texts], marked)

    return _search(text, find)


def activity_phrases(
    labels: Sequence[str], synonyms: Mapping[str, Sequence[str]] = HAR_SYNONYMS
) -> dict[str, str]:
    """phrase -> label for each label's own name plus the synonyms of the group it belongs to."""
    phrases: dict[str, str] = {}
    for label in labels:
        name = normalize_text(label)
        group = next((g for g, words in synonyms.items() if name == g or name in words), None)
        for phrase in (name, *(synonyms[group] if group else ())):
            if phrases.setdefault(phrase, label) != label:
                raise ValueError(f"labels {phrases[phrase]!r} and {label!r} share the phrase {phrase!r}.")
    return phrases


def parse_activity(
    text: str, labels: Sequence[str], synonyms: Mapping[str, Sequence[str]] = HAR_SYNONYMS
) -> str | None:
    """The label (as given in `labels`) `text` names, with HAR synonyms ("upstairs", "lying"), or None."""
    phrases = activity_phrases(labels, synonyms)

    def find(segment: str, marked: bool) -> str | None:
        return _pick([(start, label) for start, _, label in _phrase_matches(segment, phrases)], marked)

    return _search(text, find)


def parse_yes_no(text: str) -> str | None:
    """ "yes" or "no" ("true"/"false" too); a reply that starts with one of them is taken at its word."""
    words = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}

    def find(segment: str, marked: bool) -> str | None:
        tokens = normalize_text(segment).split()
        if tokens and tokens[0] in words:
            return words[tokens[0]]
        return _pick([(i, words[token]) for i, token in enumerate(tokens) if token in words], marked)

    return _search(text, find)


def parse_number(text: str) -> float | None:
    """A number ("1,234.5", "-3e-2", ".5", or a word from zero to twenty), or None."""

    def find(segment: str, marked: bool) -> float | None:
        matches = [(m.start(), float(m.group().replace(",", ""))) for m in _NUMBER.finditer(segment)]
        matches += [
            (m.start(), float(_NUMBER_WORDS[m.group().lower()]))
            for m in re.finditer(r"\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", segment, re.IGNORECASE)
        ]
        return _pick(matches, marked)

    return _search(text, find)


def parse_answer(
    text: str, task: str, *, choices: Sequence[str] | None = None, labels: Sequence[str] | None = None
) -> Any:
    """Parse one prediction for `task` ("choice", "activity", "yes_no", "number", "exact"); None if unparsed.

    Returns the option index (choice), the label (activity), "yes"/"no", a float, or the normalised text.
    """
    if task == "choice":
        return parse_choice(text, choices or [])
    if task == "activity":
        if not labels:
            raise ValueError("task='activity' needs labels= (the activity names).")
        return parse_activity(text, labels)
    if task == "yes_no":
        return parse_yes_no(text)
    if task == "number":
        return parse_number(text)
    if task == "exact":
        segments, marked = _segments(text)
        answer = normalize_text(segments[0]).replace(CLAUSE_BREAK, " ")
        return " ".join(answer.split()) or None
    raise ValueError(f"task must be one of {TASKS}, got {task!r}.")


def _infer_task(answer: str, choices: Sequence[str] | None, labels: Sequence[str] | None) -> str:
    if choices:
        return "choice"
    if labels:
        return "activity"
    if normalize_text(answer) in {"yes", "no", "true", "false"}:
        return "yes_no"
    if _NUMBER.fullmatch(answer.strip()):
        return "number"
    return "exact"


def score_answers(
    predictions: Sequence[str],
    answers: Sequence[str],
    choices: Sequence[Sequence[str]] | None = None,
    task: str = "auto",
    *,
    labels: Sequence[str] | None = None,
    rtol: float = 0.0,
    atol: float = 1e-6,
) -> dict[str, float]:
    """Accuracy of `predictions` against gold `answers` with the parser above.

    `choices`: one option list per example (empty for open questions), as in QA_FEATURES. task="auto"
    picks per example: options -> "choice", `labels` -> "activity", a yes/no gold -> "yes_no", a numeric gold
    -> "number", else "exact" (normalised string equality). Gold answers go through the same parser (a
    gold "B" or the option text both work); a gold answer that does not parse is a ValueError. Numbers match
    within `math.isclose(rel_tol=rtol, abs_tol=atol)`.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
    if len(predictions) != len(answers) or not answers:
        raise ValueError(f"need one prediction per answer, got {len(predictions)} and {len(answers)}.")
    if choices is not None and len(choices) != len(answers):
        raise ValueError(f"choices needs one option list per example ({len(answers)}), got {len(choices)}.")
    correct = parsed = 0
    for row, (prediction, answer) in enumerate(zip(predictions, answers)):
        options = list(choices[row]) if choices is not None else None
        row_task = _infer_task(answer, options, labels) if task == "auto" else task
        gold = parse_answer(answer, row_task, choices=options, labels=labels)
        if gold is None:
            raise ValueError(f"gold answer {row} ({answer!r}) does not parse as task {row_task!r}.")
        guess = parse_answer(prediction, row_task, choices=options, labels=labels)
        parsed += guess is not None
        if row_task == "number":
            correct += guess is not None and math.isclose(guess, gold, rel_tol=rtol, abs_tol=atol)
        else:
            correct += guess == gold
    return {
        "accuracy": correct / len(answers),
        "parsed_fraction": parsed / len(answers),
        "num_examples": len(answers),
    }
