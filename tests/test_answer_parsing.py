"""The QA answer parser on the strings the reference scorers got wrong."""

import pytest

from evaluation_slip.answer_parsing import (
    parse_activity,
    parse_answer,
    parse_choice,
    parse_number,
    parse_yes_no,
    score_answers,
)

CHOICES = ["increasing", "decreasing", "flat", "periodic"]
HAR = ["walking", "walking upstairs", "walking downstairs", "sitting", "standing", "laying"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("(B)", 1),
        ("B)", 1),
        ("b", None),  # a bare lowercase letter is an English word unless it follows an answer marker
        ("B", 1),
        ("Answer: b", 1),
        ("Answer: a flat line", 2),  # the article "a", not option A
        ("answer: (c) because the trend vanishes", 2),
        ("The answer is D.", 3),
        ("I pick option c", 2),
        ("The series is clearly decreasing.", 1),
        ("It is not increasing; it is flat.", 2),
        ("not increasing", None),
        ("Answer: A. Wait, no. Final answer: (C)", 2),
        ("(E)", None),  # there is no fifth option
        ("The trend is DECREASING!!", 1),
        ("It looks increasing at first, but overall it is decreasing", 1),
    ],
)
def test_parse_choice(text, expected):
    assert parse_choice(text, CHOICES) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The person is walking upstairs.", "walking upstairs"),
        ("upstairs", "walking upstairs"),
        ("WALKING_DOWNSTAIRS", "walking downstairs"),
        ("The subject is lying down.", "laying"),
        ("not sitting", None),
        ("The person is not sitting, they are standing.", "standing"),
        ("The person isn't walking; the signal is flat, so they are sitting.", "sitting"),
        ("Answer: standing. It is not laying because gravity is on the x axis.", "standing"),
        ("walking rather than sitting", "walking"),
        ("The person is climbing stairs.", "walking upstairs"),
        ("It is hard to say.", None),
    ],
)
def test_parse_activity(text, expected):
    assert parse_activity(text, HAR) == expected


def test_activity_labels_keep_the_callers_spelling():
    labels = ["WALKING", "WALKING_UPSTAIRS", "LYING"]
    assert parse_activity("they are laying on a bed", labels) == "LYING"
    assert parse_activity("walking up the stairs", labels) == "WALKING_UPSTAIRS"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Yes", "yes"),
        ("No, there is no trend.", "no"),
        ("Yes, there is no doubt.", "yes"),
        ("Looking at the spikes... the answer is no", "no"),
        ("True", "yes"),
        ("maybe", None),
    ],
)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("There are 3 peaks.", 3.0),
        ("Answer: 1,234.5 units, not 12", 1234.5),
        ("about -0.25", -0.25),
        ("I count two then three spikes", 3.0),
        ("1e-3", 0.001),
        ("version v2 has none", None),
    ],
)
def test_parse_number(text, expected):
    assert parse_number(text) == expected


def test_score_answers_choice_and_parsed_fraction():
    predictions = ["(B)", "The series is flat", "not increasing", "Answer: a"]
    answers = ["B", "flat", "increasing", "(A)"]
    result = score_answers(predictions, answers, choices=[CHOICES] * 4)
    assert result == {"accuracy": 0.75, "parsed_fraction": 0.75, "num_examples": 4}


def test_score_answers_auto_tasks():
    predictions = ["Yes, clearly.", "Answer: 4.0", "a rising line", "No"]
    answers = ["yes", "4", "A rising line.", "yes"]
    result = score_answers(predictions, answers)
    assert result["accuracy"] == 0.75
    assert result["parsed_fraction"] == 1.0


def test_score_answers_activity_substring_trap():
    predictions = ["The person is not sitting.", "walking upstairs", "laying"]
    answers = ["sitting", "walking", "lying"]
    result = score_answers(predictions, answers, labels=HAR)
    assert result["accuracy"] == pytest.approx(1 / 3)
    assert result["parsed_fraction"] == pytest.approx(2 / 3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="does not parse"):
        score_answers(["B"], ["Z"], choices=[CHOICES])
    with pytest.raises(ValueError, match="one prediction per answer"):
        score_answers(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="task must be"):
        parse_answer("x", "essay")
