"""What needs action on the board, with a severity for each figure (no database, no Flask).

Severities: "bad" asks for action now, "warn" soon, "good" nothing to do, "none" no figure yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from console.metrics import QueueNumbers
from console.queries import Board, PromiseLine, QueueLine

# A callback whose planned dial is this close is due soon.
DUE_SOON = timedelta(minutes=15)
# First-contact resolution below these shares is shown as a warning or as bad.
FCR_WARN_BELOW = 0.75
FCR_BAD_BELOW = 0.60
# A caller who waited this share of the queue's wait threshold is a warning; past it, bad.
WAIT_WARN_SHARE = 0.5


@dataclass(frozen=True)
class Figure:
    value: int | float | None
    severity: str


@dataclass(frozen=True)
class LongestWait:
    seconds: int
    queue: str | None
    severity: str


@dataclass(frozen=True)
class BoardSummary:
    at_risk: Figure
    due_next_hour: Figure
    overdue: int
    due_soon: int
    longest_wait: LongestWait
    fcr_today: Figure
    fcr_resolved: int
    fcr_base: int


def summarise(board: Board, today: QueueNumbers) -> BoardSummary:
    """The board's action figures, from the board and today's total numbers."""
    overdue = sum(1 for p in board.due_next_hour if p.planned_dial_at < board.now)
    due_soon = sum(1 for p in board.due_next_hour if board.now <= p.planned_dial_at < board.now + DUE_SOON)
    return BoardSummary(
        at_risk=Figure(len(board.at_risk), "bad" if board.at_risk else "good"),
        due_next_hour=Figure(len(board.due_next_hour), _due_severity(board.due_next_hour, overdue, due_soon)),
        overdue=overdue,
        due_soon=due_soon,
        longest_wait=longest_wait(board.queues),
        fcr_today=Figure(today.fcr_rate, fcr_severity(today.fcr_rate)),
        fcr_resolved=today.fcr_resolved,
        fcr_base=today.fcr_base,
    )


def _due_severity(due: list[PromiseLine], overdue: int, due_soon: int) -> str:
    if overdue:
        return "bad"
    if due_soon:
        return "warn"
    return "good" if not due else "none"


def longest_wait(queues: list[QueueLine]) -> LongestWait:
    """The caller waiting longest over all queues, judged against that queue's wait threshold."""
    waiting = [q for q in queues if q.waiting]
    if not waiting:
        return LongestWait(0, None, "good")
    worst = max(waiting, key=lambda q: q.longest_wait_seconds)
    threshold = max(1, worst.wait_threshold_seconds)
    if worst.longest_wait_seconds > threshold:
        severity = "bad"
    elif worst.longest_wait_seconds > threshold * WAIT_WARN_SHARE:
        severity = "warn"
    else:
        severity = "good"
    return LongestWait(worst.longest_wait_seconds, worst.label, severity)


def fcr_severity(rate: float | None) -> str:
    if rate is None:
        return "none"
    if rate < FCR_BAD_BELOW:
        return "bad"
    return "warn" if rate < FCR_WARN_BELOW else "good"
