"""Counts in words: one is singular, everything else plural, never "nudge(s)"."""

from __future__ import annotations

from attuned.core.words import count


def test_counts_are_singular_only_for_one() -> None:
    assert [count(n, "nudge") for n in (0, 1, 2)] == ["0 nudges", "1 nudge", "2 nudges"]
    assert count(1, "job") + ", " + count(3, "job") == "1 job, 3 jobs"
    assert count(1, "address", "addresses") == "1 address"
    assert count(2, "address", "addresses") == "2 addresses"
