"""Every action the code records in the audit log is said in words where the console shows it."""

from __future__ import annotations

import re
from pathlib import Path

from console.texts import AUDIT_ACTIONS, audit_action, audit_subject, tr

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("callbacks", "console", "ivr", "privacy", "routing", "telephony", "terugbel", "webhooks")
# record_audit(..., action="queue.update", ...): the action as the code writes it.
_ACTION = re.compile(r'record_audit\((?:[^()]|\([^()]*\))*?\baction="([^"]+)"', re.DOTALL)


def recorded_actions() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found |= set(_ACTION.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_recorded_action_has_words() -> None:
    actions = recorded_actions()
    assert "routing.rules.publish" in actions and "caller.erased" in actions  # the scan finds them
    assert sorted(actions - AUDIT_ACTIONS.keys()) == []
    assert sorted(AUDIT_ACTIONS.keys() - actions) == []  # none left over from actions no longer written


def test_every_action_is_dutch_in_the_dutch_console() -> None:
    untranslated = [phrase for phrase in AUDIT_ACTIONS.values() if tr(phrase, "nl") == phrase]
    assert untranslated == []


def test_actions_and_subjects_in_words() -> None:
    # Outside a request the console speaks its default language, Dutch.
    assert audit_action("routing.rules.publish") == "routeringsregels gepubliceerd"
    assert audit_action("something.new") == "something.new"
    assert audit_subject("rule set version 12") == "regelset versie 12"
    assert audit_subject("queue technisch") == "queue technisch"
