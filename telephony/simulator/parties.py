"""Scripted people on the simulated phone network: callers, callees and agents.

Declared in Python (`Party(...)`, `Reply(...)`) or in a small YAML/JSON file (`load_parties`):

    callers:
      - number: "+31612345678"
        replies:
          - say: "mijn internet doet het niet"
          - press: "1"
            when_heard: "druk op 1"
        hang_up_after: 600
    agents:
      - number: "+31201234567"
        whisper_key: "1"
        talk_seconds: 120
    callees:
      - number: "+31687654321"
        answered_by: machine_end_beep
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

Role = Literal["caller", "callee", "agent"]
ANSWERED_BY_VALUES = frozenset({"human", "machine_start", "machine_end_beep", "machine_end_silence",
                                "machine_end_other", "fax", "unknown"})


@dataclass(frozen=True)
class Reply:
    """What a party does at one Gather or Record: say words, press keys, or hang up."""

    say: str | None = None
    press: str | None = None
    when_heard: str | None = None  # answer this when the last prompt contains these words
    after_seconds: float = 1.0  # thinking time before answering
    hang_up: bool = False
    confidence: float = 0.92  # what speech recognition reports for `say`

    def matches(self, heard: str) -> bool:
        return self.when_heard is not None and self.when_heard.casefold() in heard.casefold()


@dataclass(frozen=True)
class Party:
    number: str
    role: Role = "caller"
    replies: tuple[Reply, ...] = ()
    answers: bool = True
    busy: bool = False
    unreachable: bool = False  # the network cannot route the call: status failed
    ring_seconds: float = 4.0  # rings before picking up (no answer when over the call's timeout)
    answered_by: str = "human"  # what answering-machine detection finds
    hang_up_after: float | None = None  # seconds after answering (or calling, for callers)
    talk_seconds: float = 30.0  # how long a bridged conversation lasts before this party hangs up
    whisper_key: str | None = None  # agents: key pressed when a whisper asks
    greeting: str | None = None  # what an agent says when bridged

    def __post_init__(self) -> None:
        if self.answered_by not in ANSWERED_BY_VALUES:
            raise ValueError(f"answered_by must be one of {sorted(ANSWERED_BY_VALUES)}")

    @property
    def is_machine(self) -> bool:
        return self.answered_by.startswith("machine") or self.answered_by == "fax"

    def detected_answer(self, mode: str) -> str:
        """The AnsweredBy value Twilio's detection reports for this party in this mode."""
        if mode == "Enable":
            return "machine_start" if self.answered_by.startswith("machine") else self.answered_by
        if self.answered_by == "machine_start":
            return "machine_end_other"
        return self.answered_by


def agent(number: str, *, whisper_key: str | None = "1", talk_seconds: float = 60.0,
          ring_seconds: float = 3.0, answers: bool = True, greeting: str | None = None) -> Party:
    """A simulated agent: answers, accepts a whisper by pressing a key, talks, hangs up."""
    return Party(number=number, role="agent", whisper_key=whisper_key, talk_seconds=talk_seconds,
                 ring_seconds=ring_seconds, answers=answers, greeting=greeting)


def caller(number: str, *replies: Reply | str, hang_up_after: float | None = None,
           talk_seconds: float = 30.0) -> Party:
    """A scripted caller; plain strings are spoken replies, in order."""
    steps = tuple(Reply(say=r) if isinstance(r, str) else r for r in replies)
    return Party(number=number, role="caller", replies=steps, hang_up_after=hang_up_after,
                 talk_seconds=talk_seconds)


def bounded(party: Party, hang_up_after: float | None) -> Party:
    """The party, hanging up after `hang_up_after` seconds at the latest (None: as declared)."""
    if hang_up_after is None or (party.hang_up_after is not None and party.hang_up_after <= hang_up_after):
        return party
    return replace(party, hang_up_after=hang_up_after)


class ReplyQueue:
    """The replies a party still has to give on one call."""

    def __init__(self, replies: tuple[Reply, ...]) -> None:
        self._replies = list(replies)

    def has_match(self, heard: str) -> bool:
        """Whether a reply waits for exactly this prompt (the party answers as soon as it hears it)."""
        return any(reply.matches(heard) for reply in self._replies)

    def next_for(self, heard: str) -> Reply | None:
        """The reply matched to what was just heard, else the next unconditional one, else silence."""
        for index, reply in enumerate(self._replies):
            if reply.matches(heard):
                return self._replies.pop(index)
        for index, reply in enumerate(self._replies):
            if reply.when_heard is None:
                return self._replies.pop(index)
        return None


@dataclass
class PartyBook:
    """Everyone the simulator knows by number; unknown numbers get a polite default."""

    parties: dict[str, Party] = field(default_factory=dict)
    # How someone not declared behaves (its number and role filled in); None: a silent human.
    default: Party | None = None

    def add(self, party: Party) -> Party:
        self.parties[party.number] = party
        return party

    def get(self, number: str, role: Role = "callee") -> Party:
        known = self.parties.get(number)
        if known is not None:
            return known
        if self.default is not None:
            return replace(self.default, number=number, role=role)
        return Party(number=number, role=role)

    def load(self, path: str | Path) -> list[Party]:
        loaded = load_parties(path)
        for party in loaded:
            self.add(party)
        return loaded


def load_parties(path: str | Path) -> list[Party]:
    """Read callers, callees and agents from a YAML or JSON file."""
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    return parties_from_data(data or {})


def reply_from_data(step: dict[str, Any]) -> Reply:
    """One reply from a file or JSON: say, press, when_heard, after_seconds, hang_up."""
    unknown = set(step) - {"say", "press", "when_heard", "after_seconds", "hang_up", "confidence"}
    if unknown:
        raise ValueError(f"unknown reply fields: {sorted(unknown)}")

    def text(name: str) -> str | None:
        value = step.get(name)
        return None if value is None else str(value)  # YAML reads `press: 1` as a number

    return Reply(say=text("say"), press=text("press"), when_heard=text("when_heard"),
                 after_seconds=float(step.get("after_seconds", 1.0)), hang_up=bool(step.get("hang_up", False)),
                 confidence=float(step.get("confidence", 0.92)))


def parties_from_data(data: dict[str, Any]) -> list[Party]:
    """Build parties from already-parsed data (the file format above)."""
    result: list[Party] = []
    for section, role in (("callers", "caller"), ("callees", "callee"), ("agents", "agent")):
        for entry in data.get(section) or []:
            fields = dict(entry)
            replies = tuple(reply_from_data(step) for step in fields.pop("replies", []) or [])
            number = str(fields.pop("number"))
            party = Party(number=number, role=role, replies=replies, **fields)  # type: ignore[arg-type]
            if role == "agent" and "whisper_key" not in entry:
                party = replace(party, whisper_key="1")
            result.append(party)
    return result
