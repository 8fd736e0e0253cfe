"""Counts in words for people: "1 nudge", "2 nudges", never "1 nudges" or "nudge(s)"."""

from __future__ import annotations


def count(n: int, noun: str, many: str | None = None) -> str:
    """`n` and the noun, singular for exactly one; `many` when adding "s" is wrong."""
    return f"{n} {noun if n == 1 else (many or noun + 's')}"
