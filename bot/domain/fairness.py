"""NHS Resolution's fairness and proportionality framework (seeds 003/004): five principles, each
answered yes / no / unknown with a note; a "no" or "unknown" calls for further inquiry."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


ANSWER_LABELS = {Answer.YES: "Yes", Answer.NO: "No", Answer.UNKNOWN: "Unknown"}


@dataclass(frozen=True)
class Principle:
    key: str
    title: str
    question: str


PRINCIPLES: tuple[Principle, ...] = (
    Principle("welfare", "Ensuring welfare and support",
              "Has the practitioner's welfare been considered and support offered?"),
    Principle("understanding", "Understanding the issues",
              "Are the issues, their context and the practitioner's circumstances understood?"),
    Principle("heard", "Ensuring the practitioner is heard",
              "Has the practitioner had the chance to give their account?"),
    Principle("process", "Adherence to process",
              "Has the relevant policy and process been followed?"),
    Principle("equity", "Equity and proportionality",
              "Is the proposed response proportionate and consistent with similar cases?"),
)
PRINCIPLE_BY_KEY = {p.key: p for p in PRINCIPLES}


def needs_inquiry(answer: str) -> bool:
    return answer in (Answer.NO, Answer.UNKNOWN)
