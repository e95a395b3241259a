"""How long a new caller would wait in a queue.

Method, stated so supervisors can check it by hand:

- The **average handle time** (AHT) of a queue is the mean duration of its last `HANDLE_SAMPLE`
  (50) contacts that reached an agent, measured from the moment the caller was connected (or, for
  contacts without a queue entry, routed, else started) to the end of the contact
  (`routing.handle_time`, the one definition; callback capacity uses it too). Until the queue has
  `MIN_SAMPLES` (20) such contacts its configured `Queue.default_handle_seconds` is used instead,
  because a mean over a handful of calls swings too much.
- **Serving agents** are the active agents on shift with the queue's skill who are not away
  (available, reserved, on a call or in wrap-up); **available** agents are those idle now.
- With `W` callers already waiting and `A` available agents, a new caller is answered at once when
  `W < A`. Otherwise `W - A + 1` callers (the new one included) must wait for a serving agent to
  come free; with `n` serving agents one frees up every `AHT / n` seconds on average, so the
  estimate is `ceil((W - A + 1) * AHT / n)`.
- With no serving agent at all nobody will answer: the estimate is `UNSTAFFED_WAIT_SECONDS`
  (one hour), which is above every wait threshold, so the caller is offered a callback. Longer
  estimates are capped there too: beyond an hour the number means "offer a callback", nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

HANDLE_SAMPLE = 50
MIN_SAMPLES = 20
UNSTAFFED_WAIT_SECONDS = 3600


def average_handle_seconds(recent_durations: Sequence[float], default_seconds: float) -> float:
    """Mean of the most recent durations (newest first), or the default while there are too few."""
    sample = [d for d in recent_durations[:HANDLE_SAMPLE] if d >= 0]
    if len(sample) < MIN_SAMPLES:
        return float(default_seconds)
    return sum(sample) / len(sample)


def estimate_wait_seconds(*, waiting: int, available_agents: int, serving_agents: int, aht_seconds: float) -> int:
    """Seconds a caller joining now would wait (see the module docstring for the method)."""
    if serving_agents <= 0:
        return UNSTAFFED_WAIT_SECONDS
    available = min(available_agents, serving_agents)
    if waiting < available:
        return 0
    ahead = waiting - available + 1
    return min(UNSTAFFED_WAIT_SECONDS, math.ceil(ahead * aht_seconds / serving_agents))
