"""The numbers that matter: per queue over a chosen period, with charts and a CSV export."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue

from console.auth import requires, runtime
from console.blueprint import bp
from console.charts import ColumnChart, bar_chart, column_chart
from console.formatting import percent_text
from console.metrics import (
    NO_QUEUE,
    TOTAL,
    InvalidPeriod,
    QueueNumbers,
    local_days,
    numbers_by_queue,
    numbers_csv,
    numbers_per_day,
    waits_by_hour,
)
from console.models import Role
from console.queries import metric_facts
from console.texts import METRIC_DEFINITIONS, tr
from console.wait_queries import queue_waits

# A period of one day shows its trend over the days up to it.
TREND_DAYS = 14


def _parse_day(raw: str | None, default: date, field: str) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidPeriod(field, "must be a date like 2026-11-23") from None


def requested_days(args: dict[str, str], today: date) -> tuple[date, date]:
    """The first and last day asked for (`from`, `to`, inclusive); both default to today."""
    first = _parse_day(args.get("from"), today, "from")
    last = _parse_day(args.get("to"), first, "to")
    return first, last


def compute_numbers(
    first: date, last: date
) -> tuple[list[QueueNumbers], list[tuple[datetime, QueueNumbers]], datetime, datetime]:
    rt = runtime()
    days = local_days(first, last, rt.settings.timezone)
    start, end = days[0][0], days[-1][1]
    now = rt.clock.now()
    window = timedelta(days=rt.settings.repeat_window_days)
    with rt.db.session() as session:
        contacts, promises, queues = metric_facts(session, start, end, window)
    rows = numbers_by_queue(contacts, promises, queues, start, end, now, window)
    return rows, numbers_per_day(contacts, promises, days, now, window), start, end




def queue_label(name: str) -> str:
    return tr("Total") if name == TOTAL else tr("no queue") if name == NO_QUEUE else name


def trend_charts(first: date, last: date, per_day: list[tuple[datetime, QueueNumbers]]) -> list[ColumnChart]:
    """Promises kept, first-contact resolution and calls per day, and waits by hour of the period."""
    rt = runtime()
    zone = rt.settings.zone
    if first == last:
        per_day = compute_numbers(last - timedelta(days=TREND_DAYS - 1), last)[1]
    days = [(day.astimezone(zone).strftime("%d-%m"), numbers) for day, numbers in per_day]
    period = local_days(first, last, rt.settings.timezone)
    with rt.db.session() as session:
        waits = waits_by_hour(queue_waits(session, period[0][0], period[-1][1]), rt.settings.timezone)
    return [
        column_chart(
            tr("Promises kept per day"), [(d, n.kept_rate, percent_text(n.kept_rate)) for d, n in days], maximum=1.0
        ),
        column_chart(
            tr("First-contact resolution per day"),
            [(d, n.fcr_rate, percent_text(n.fcr_rate)) for d, n in days],
            maximum=1.0,
        ),
        column_chart(tr("Calls per day"), [(d, n.calls, str(n.calls)) for d, n in days]),
        column_chart(
            tr("Average wait in the queue by hour (s)"),
            [
                (f"{w.hour:02d}", w.average_seconds, "" if w.average_seconds is None else f"{w.average_seconds:.0f}")
                for w in waits
            ],
        ),
    ]


@bp.get("/metrics")
@requires(Role.SUPERVISOR)
def metrics_page() -> ResponseReturnValue:
    """The numbers over a chosen period, per queue, with charts."""
    rt = runtime()
    today = rt.clock.now().astimezone(rt.settings.zone).date()
    error: InvalidPeriod | None = None
    try:
        first, last = requested_days(request.args, today)
        rows, per_day, _start, _end = compute_numbers(first, last)
    except InvalidPeriod as exc:
        error = exc
        first, last = today, today
        rows, per_day, _start, _end = compute_numbers(today, today)
    queues = [r for r in rows if r.queue != TOTAL]
    charts = [
        bar_chart(
            tr("First-contact resolution"),
            [(queue_label(r.queue), r.fcr_rate, percent_text(r.fcr_rate)) for r in rows],
            maximum=1.0,
        ),
        bar_chart(
            tr("Promises kept"),
            [(queue_label(r.queue), r.kept_rate, percent_text(r.kept_rate)) for r in rows],
            maximum=1.0,
        ),
        bar_chart(
            tr("Repeat-contact rate"),
            [(queue_label(r.queue), r.repeat_rate, percent_text(r.repeat_rate)) for r in rows],
            maximum=1.0,
        ),
    ]
    status = 422 if error else 200
    return (
        render_template(
            "metrics.html",
            rows=rows,
            queues=queues,
            charts=charts,
            trends=trend_charts(first, last, per_day),
            first=first,
            last=last,
            error=error,
            queue_label=queue_label,
            percent=percent_text,
            definitions=METRIC_DEFINITIONS,
        ),
        status,
    )


@bp.get("/metrics.csv")
@requires(Role.SUPERVISOR)
def metrics_csv() -> ResponseReturnValue:
    """The same numbers as CSV."""
    rt = runtime()
    today = rt.clock.now().astimezone(rt.settings.zone).date()
    try:
        first, last = requested_days(request.args, today)
        rows, _per_day, start, end = compute_numbers(first, last)
    except InvalidPeriod as exc:
        return Response(f"{exc.field}: {exc.message}\n", status=422, mimetype="text/plain")
    filename = f"terugbel-numbers-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        numbers_csv(rows, start, end),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
