"""The word-level diff QA read between an original reply and its replay."""

from __future__ import annotations

import pytest

from chatbot.services.word_diff import changed_words, side, word_diff

def test_word_diff_marks_changed_words_and_keeps_whitespace():
    segments = word_diff("Your order ships today.\n\nThanks!", "Your order ships tomorrow.\n\nThanks!")
    assert segments == [
        ("equal", "Your order ships "), ("delete", "today."), ("insert", "tomorrow."), ("equal", "\n\nThanks!"),
    ]
    assert changed_words(segments) == (1, 1)


@pytest.mark.parametrize(
    "a, b",
    [("", ""), ("", "new text"), ("old text", ""), ("same  words\n", "same  words\n"),
     ("1. First\n2. Second", "1. First step\n2. Second\n3. Third")],
)
def test_word_diff_gives_back_both_sides(a, b):
    segments = word_diff(a, b)
    assert side(segments, "original") == a and side(segments, "new") == b
    assert all(text for _, text in segments)
    assert all(x[0] != y[0] for x, y in zip(segments, segments[1:]))  # neighbours merged
