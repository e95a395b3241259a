"""What happened on a call, turn by turn: who said or pressed what, when, during which verb."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
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
        turns = [Turn(datetime.fromisoformat(t["at"]), t["who"], t["what"], t["verb"]) for t in data["turns"]]
        return cls(call_sid=data["call_sid"], from_=data["from"], to=data["to"], direction=data["direction"],
                   turns=turns, status=data["status"], answered_by=data.get("answered_by"),
                   duration_seconds=data.get("duration_seconds"), errors=list(data.get("errors", [])),
                   verbs=list(data.get("verbs", [])), requests=list(data.get("requests", [])))

    def to_text(self) -> str:
        lines = [f"Call {self.call_sid} {self.direction} {self.from_} -> {self.to}"]
        for turn in self.turns:
            lines.append(f"{turn.at:%H:%M:%S}  {turn.who:<6} [{turn.verb}] {turn.what}")
        lines.append("verbs: " + " ".join(self.verbs))
        lines.append(
            f"status: {self.status}" + (f" (answered by {self.answered_by})" if self.answered_by else "")
        )
        lines.extend(f"error {error['code']}: {error['message']}" for error in self.errors)
        return "\n".join(lines)
