"""What happened on a call, turn by turn: who said or pressed what, when, during which verb."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Literal

Speaker = Literal["system", "caller", "agent"]


@dataclass(frozen=True)
class Turn:
    at: datetime
    who: Speaker
    what: str
    verb: str

    def to_dict(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "who": self.who, "what": self.what, "verb": self.verb}

    def to_text(self, zone: tzinfo | None = None) -> str:
        """One line of the transcript; `zone` shows the time as the caller hears it (None: as recorded)."""
        at = self.at.astimezone(zone) if zone is not None else self.at
        return f"{at:%H:%M:%S}  {self.who:<6} [{self.verb}] {self.what}"

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Turn:
        return cls(datetime.fromisoformat(data["at"]), data["who"], data["what"], data["verb"])  # type: ignore[arg-type]


@dataclass
class CallTranscript:
    call_sid: str
    from_: str
    to: str
    direction: str
    turns: list[Turn] = field(default_factory=list)
    status: str = "queued"
    answered_by: str | None = None
    duration_seconds: int | None = None
    errors: list[dict[str, object]] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)  # every TwiML verb executed, in order
    requests: list[dict[str, str]] = field(default_factory=list)  # every webhook: url, method, status

    def add(self, at: datetime, who: Speaker, what: str, verb: str) -> None:
        self.turns.append(Turn(at, who, what, verb))

    def said_by(self, who: Speaker) -> list[str]:
        return [turn.what for turn in self.turns if turn.who == who]

    @property
    def system_text(self) -> str:
        """Everything the network said to the caller, joined: handy for `in` assertions."""
        return " ".join(self.said_by("system"))

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["from"] = data.pop("from_")
        data["turns"] = [turn.to_dict() for turn in self.turns]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallTranscript:
        """Rebuild a transcript from `to_dict()` output (e.g. from the simulator's control API)."""
        turns = [Turn.from_dict(turn) for turn in data["turns"]]
        return cls(call_sid=data["call_sid"], from_=data["from"], to=data["to"], direction=data["direction"],
                   turns=turns, status=data["status"], answered_by=data.get("answered_by"),
                   duration_seconds=data.get("duration_seconds"), errors=list(data.get("errors", [])),
                   verbs=list(data.get("verbs", [])), requests=list(data.get("requests", [])))

    @property
    def heading(self) -> str:
        return f"Call {self.call_sid} {self.direction} {self.from_} -> {self.to}"

    def to_text(self, zone: tzinfo | None = None) -> str:
        """The whole transcript; times in `zone` (the contact center's), or as recorded when None."""
        return "\n".join([self.heading, *(turn.to_text(zone) for turn in self.turns), self.ending])

    @property
    def ending(self) -> str:
        """What follows the turns: the verbs run, the final status and any errors."""
        lines = ["verbs: " + " ".join(self.verbs)]
        lines.append(
            f"status: {self.status}" + (f" (answered by {self.answered_by})" if self.answered_by else "")
        )
        lines.extend(f"error {error['code']}: {error['message']}" for error in self.errors)
        return "\n".join(lines)
