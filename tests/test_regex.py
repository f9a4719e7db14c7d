"""User-supplied patterns run with RE2: linear time whatever the pattern, with PCRE's flags."""

from __future__ import annotations

import pytest

from menderlite.regex import RegexError, compile_pattern, strip_verbose, try_compile


def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    # With a backtracking engine (Python's re) this single call would run for longer than the universe.
    assert compile_pattern(r"(a+)+$").fullmatch("a" * 100_000 + "b") is None
    assert compile_pattern(r"(x+x+)+y").search("x" * 50_000) is None


def test_bad_patterns_are_errors_not_crashes() -> None:
    for pattern in ("(", "a)|(b", "[z-a]", "(?<=a)b", r"(a)\1"):  # RE2 has no look-behind or back-references
        with pytest.raises(RegexError):
            compile_pattern(pattern)
        assert try_compile(pattern) is None


def test_flags() -> None:
    assert compile_pattern(r"(?i)\A(?:abc)").search("ABCd")
    assert compile_pattern(r"(?s)\A(?:a.b)").search("a\nb")
    assert compile_pattern(r"(?m)^b").search("a\nb")


def test_verbose_mode_drops_white_space_and_comments_outside_classes() -> None:
    assert strip_verbose("a b  # a comment\n c[ #]\\ d") == "abc[ #]\\ d"
    assert compile_pattern(strip_verbose("a b # x\n c")).fullmatch("abc")
