"""Story 2's contact center, shared by the routing tests against the real database."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def center(make_queue: Any, make_agent: Any, make_intent: Any, make_caller: Any) -> dict[str, Any]:
    """Story 2's contact center: billing with Sanne, technical with Ahmed, a retention team."""
    technisch = make_queue("technisch")
    facturen = make_queue("facturen")
    retentie = make_queue("retentie")
    return {
        "technisch": technisch,
        "facturen": facturen,
        "retentie": retentie,
        "sanne": make_agent("Sanne Jansen", "+31611110001", ("facturen",), state="on_call"),
        "ahmed": make_agent("Ahmed El Amrani", "+31611110002", ("technisch",)),
        "factuur": make_intent("factuur", facturen, nl=["factuur", "rekening", "klopt niet"]),
        "internet": make_intent("internet", technisch, nl=["internet", "modem"]),
        "opzeggen": make_intent("opzeggen", facturen, nl=["opzeggen", "abonnement stoppen"]),
        "monique": make_caller("+31687654321", "Monique de Vries", language="nl", products=["tv"]),
    }
