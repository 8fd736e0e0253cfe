"""The feelings and needs lists shipped with attuned, and the `{feeling}` / `{need}`
placeholders a message may carry, for practices that ask the person to guess.

The lists live in attuned/data/feelings.txt and needs.txt: one word or phrase a line,
"# ..." lines are group headings (the first one describes the list).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

from attuned.core.timing import seeded_rng

PLACEHOLDERS = ("feeling", "need")
_FILES = {"feeling": "feelings.txt", "need": "needs.txt"}
_PLACEHOLDER = re.compile(r"\{(feeling|need)\}")


@dataclass(frozen=True)
class WordList:
    about: str  # the list's first heading: what it is for
    groups: tuple[tuple[str, tuple[str, ...]], ...]  # (heading, words)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(w for _, ws in self.groups for w in ws)


def parse_list(text: str) -> WordList:
    about = ""
    groups: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            if not about:
                about = heading
            elif heading.lower().startswith("lines starting"):
                continue  # the file's note to its editors
            else:
                groups.append((heading, []))
            continue
        if not groups:
            groups.append(("", []))
        groups[-1][1].append(line)
    return WordList(about, tuple((h, tuple(ws)) for h, ws in groups if ws))


@cache
def word_list(kind: str) -> WordList:
    """"feeling" or "need"."""
    text = resources.files("attuned").joinpath("data", _FILES[kind]).read_text("utf-8")
    return parse_list(text)


def fill(message: str, practice_id: str, at: datetime, seed: str) -> str:
    """Replace each {feeling} and {need} with one word from the list, chosen by
    (seed, practice, planned instant): the same nudge always gets the same words, as
    `timing.pick_message` keeps the same variant."""
    if "{" not in message:
        return message
    rng = seeded_rng(seed, practice_id, at.isoformat(), "words")

    def pick(m: re.Match[str]) -> str:
        return rng.choice(word_list(m.group(1)).words)

    return _PLACEHOLDER.sub(pick, message)
