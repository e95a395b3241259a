"""The rules form parser and the numbers: any posted form is handled, sane numbers always come out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from console.metrics import TOTAL, ContactFact, PromiseFact, numbers_by_queue
from console.rule_form import CHECK_KEYS, TEXT_KEYS, form_key, rows_from_form, rules_from_rows
from routing.rule_validation import validate_rule_set

text = st.text(max_size=12)
field_names = st.sampled_from([*TEXT_KEYS, *CHECK_KEYS, "position", "remove", "c-day_time-weekdays"])


@given(
    count=st.one_of(st.integers(-3, 6).map(str), text),
    entries=st.lists(st.tuples(st.integers(0, 5), field_names, text), max_size=30),
)
def test_any_posted_form_becomes_rules_or_field_errors(count: str, entries: list[tuple[int, str, str]]) -> None:
    form = MultiDict([("rule-count", count), *((f"rule-{i}-{name}", value) for i, name, value in entries)])
    rules, used = rules_from_rows(rows_from_form(form))
    assert len(rules) == len(used)
    for error in validate_rule_set(rules, {"facturen"}, {1}, {"factuur"}):
        if error.rule_index is not None:
            assert 0 <= error.rule_index < len(used)
        assert form_key(error.field)


START = datetime(2026, 11, 23, tzinfo=UTC)
moments = st.integers(-10 * 24 * 60, 11 * 24 * 60).map(lambda minutes: START + timedelta(minutes=minutes))
contacts = st.builds(
    ContactFact,
    contact_id=st.integers(1, 10**6),
    caller_id=st.one_of(st.none(), st.integers(1, 4)),
    queue_id=st.one_of(st.none(), st.integers(1, 3)),
    intent=st.sampled_from([None, "factuur", "modem"]),
    channel=st.sampled_from(["call", "callback", "sms"]),
    outcome=st.sampled_from(["agent", "callback_booked", "abandoned", "informed_by_incident", "in_progress"]),
    resolved=st.sampled_from([None, True, False]),
    started_at=moments,
    routed_at=st.none(),
    questions_asked=st.integers(0, 3),
)


@st.composite
def promises(draw: st.DrawFn) -> PromiseFact:
    start = draw(moments)
    dial = draw(st.one_of(st.none(), st.integers(-5, 60).map(lambda m: start + timedelta(minutes=m))))
    return PromiseFact(
        promise_id=draw(st.integers(1, 10**6)),
        queue_id=draw(st.integers(1, 3)),
        state=draw(st.sampled_from(["booked", "completed", "missed", "moved", "cancelled"])),
        window_start=start,
        window_end=start + timedelta(minutes=15),
        first_dial_at=dial,
        connected_at=dial if dial is not None and draw(st.booleans()) else None,
        moved_by_us=draw(st.booleans()),
    )


@given(st.lists(contacts, max_size=25, unique_by=lambda c: c.contact_id), st.lists(promises(), max_size=15))
def test_rates_are_fractions_and_the_total_adds_up(
    all_contacts: list[ContactFact], all_promises: list[PromiseFact]
) -> None:
    end = START + timedelta(days=1)
    rows = numbers_by_queue(all_contacts, all_promises, {1: "a", 2: "b", 3: "c"}, START, end, START + timedelta(days=9))
    total, queues = rows[-1], rows[:-1]
    assert total.queue == TOTAL
    for row in rows:
        for rate in (row.fcr_rate, row.repeat_rate, row.kept_rate, row.connected_rate):
            assert rate is None or 0 <= rate <= 1
        assert row.promises_kept <= row.promises_due and row.promises_connected <= row.promises_due
    for name in (
        "calls",
        "fcr_base",
        "fcr_resolved",
        "repeat_contacts",
        "promises_due",
        "promises_kept",
        "moved_by_us",
    ):
        assert getattr(total, name) == sum(getattr(row, name) for row in queues), name
