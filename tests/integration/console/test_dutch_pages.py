"""Every console page of the demo contact center in Dutch: no raw state or outcome name, none of
the English words that used to slip through."""

from __future__ import annotations

import html
import re
from typing import Any
from zoneinfo import ZoneInfo

from callbacks.models import PromiseState
from routing.models import AgentState, ContactOutcome
from routing.rule_sets import publish_rule_set
from terugbel.seed import seed_demo
from tests.integration.console_support import logged_in_client

RAW_NAMES = {value.value for value in [*AgentState, *PromiseState, *ContactOutcome]}
# English the Dutch console once showed (the page-by-page pass).
ENGLISH_LEFTOVERS = (
    "built-in", "no agent free", "invalid number", "attempts", "must be", "supervisor board",
    "first dialled", "repeat window",  # the metrics page's definitions
    "routing.rules.publish", "rule set version",  # the rules page's audit log
)
_INVISIBLE = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def _visible_text(page: str) -> str:
    return html.unescape(_INVISIBLE.sub(" ", page))


def _pages(app: Any) -> list[str]:
    """Every console page one GET shows, ids filled with 1 (the demo's first queue, caller, agent...)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and "GET" in rule.methods and "static" not in rule.rule:
            urls.append(re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule))
    return sorted(set(urls))


def _around(text: str, words: list[str]) -> list[str]:
    return [text[max(m.start() - 50, 0) : m.end() + 20] for m in re.finditer(rf"\b({'|'.join(words)})\b", text)]


def test_every_dutch_page_says_states_and_outcomes_in_words(app: Any, db: Any, clock: Any) -> None:
    with db.session() as session:
        seed_demo(session, clock.now(), ZoneInfo("Europe/Amsterdam"))
        publish_rule_set(session, [], "joost", clock.now())  # an entry in the audit log
    admin, _ = logged_in_client(app, db, clock.now(), "admin", language="nl")
    shown, found = 0, {}
    for url in _pages(app):
        response = admin.get(url, follow_redirects=True)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        shown += 1
        page = response.get_data(as_text=True)
        text = _visible_text(page)
        raw = sorted(RAW_NAMES & set(re.findall(r"[a-z_]+", text)))
        english = [word for word in ENGLISH_LEFTOVERS if re.search(rf"\b{re.escape(word)}\b", text.lower())]
        if raw or english:
            found[url] = _around(text, raw + english)
    assert found == {}
    assert shown > 15
