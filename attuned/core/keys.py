"""What each pending timer of the daemon is for: a practice's next nudge, a snooze's
return, a repeat, an expiry, a period's question, a held nudge's release, the digest.
The scheduler keeps one entry per `JobKey`; the core decides what each kind means."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class JobKind(enum.Enum):
    NUDGE = "p"  # a practice's next nudge; ident: the practice id
    SNOOZE = "s"  # a snoozed nudge coming back; ident: the nudge id
    REPEAT = "r"  # an unanswered nudge nudged again; ident: the nudge id
    EXPIRY = "x"  # an unanswered nudge closed at answer_within; ident: the nudge id
    REFLECTION = "e"  # the question at a period's end; ident: the practice id
    RELEASE = "h"  # a deferred nudge looked at again; ident: the practice id
    DIGEST = "d"  # the one notification of gathered nudges; ident: "digest"


@dataclass(frozen=True)
class JobKey:
    kind: JobKind
    ident: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.ident}"

    @classmethod
    def parse(cls, text: str) -> JobKey:
        """"p:breakfast" -> JobKey(NUDGE, "breakfast"); ValueError for anything else."""
        code, sep, ident = text.partition(":")
        if not sep or not ident:
            raise ValueError(f"{text!r} is not a job key")
        return cls(JobKind(code), ident)


def nudge(practice_id: str) -> JobKey:
    return JobKey(JobKind.NUDGE, practice_id)


def snooze(nudge_id: str) -> JobKey:
    return JobKey(JobKind.SNOOZE, nudge_id)


def repeat(nudge_id: str) -> JobKey:
    return JobKey(JobKind.REPEAT, nudge_id)


def expiry(nudge_id: str) -> JobKey:
    return JobKey(JobKind.EXPIRY, nudge_id)


def reflection(practice_id: str) -> JobKey:
    return JobKey(JobKind.REFLECTION, practice_id)


def release(practice_id: str) -> JobKey:
    return JobKey(JobKind.RELEASE, practice_id)


DIGEST = JobKey(JobKind.DIGEST, "digest")
