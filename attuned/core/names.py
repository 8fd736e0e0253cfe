"""Resolving an id a person typed (a practice's, a nudge's) against the ids there are:
one behaviour for every command, a suggestion for a near miss. Pure."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from attuned.errors import PracticeNotFound


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known id nearest to `name`, when one is near enough to be a typo of it."""
    guess = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return guess[0] if guess else None


def unknown_practice(name: str, known: Iterable[str]) -> PracticeNotFound:
    """The error for a practice id that is not there, with the likeliest one it meant."""
    ids = sorted(set(known))
    guess = closest(name, ids)
    if guess is not None:
        return PracticeNotFound(f'no practice "{name}"; did you mean "{guess}"?')
    if not ids:
        return PracticeNotFound(f'no practice "{name}"; there are no practices yet (add one '
                                "with: attuned add, or attuned try)")
    return PracticeNotFound(f'no practice "{name}"; the practices are: {", ".join(ids)}')


def resolve_practice(name: str, known: Iterable[str]) -> str:
    """`name` when it is one of `known`, else PracticeNotFound with a suggestion."""
    ids = set(known)
    if name in ids:
        return name
    raise unknown_practice(name, ids)
