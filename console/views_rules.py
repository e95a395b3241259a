"""The routing rules editor: the live set and its versions, edit as a form, dry run, publish, roll back.

Validation, dry runs, publishing and rollbacks are routing's (routing/rule_sets.py, routing/dry_run.py); this page only
turns the form into rules JSON and puts routing's errors back on the fields they name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.auth import requires, runtime, signed_in_user
from console.blueprint import bp
from console.formatting import moment_text, weekday_names
from console.models import Role
from console.rule_form import CHOSEN_QUEUE, RuleRow, blank_row, form_key, rows_from_form, rows_from_rules
from console.rule_form import rules_from_rows as _rules_from_rows
from console.texts import explained, tr, ui_language
from routing.dry_run import DryRun, dry_run
from routing.models import Agent, Intent, Queue
from routing.route import UnknownIntent
from routing.rule_sets import (
    UnknownRuleSetVersion,
    check_rule_set,
    list_versions,
    publish_rule_set,
    rollback_rule_set,
)
from routing.rules import InvalidRuleSet, RuleError
from terugbel.audit import AuditEntry

AUDIT_SHOWN = 30
MAX_NOTE = 300


@dataclass(frozen=True)
class DryRunInput:
    number: str = ""
    words: str = ""
    intent: str = ""
    time: str = ""  # datetime-local, in the site's zone


def agent_choices(agents: Sequence[tuple[int, str]], rows: Sequence[RuleRow]) -> list[tuple[str, str]]:
    """The agents to route to, by name; an agent a rule names who is no longer active stays choosable,
    so opening and saving the rules never drops a route silently."""
    options = [("", tr("none"))] + [(str(agent_id), name) for agent_id, name in agents]
    known = {value for value, _ in options}
    for row in rows:
        chosen = row.get("a-route_to_agent")
        if chosen and chosen not in known:
            options.append((chosen, tr("agent {id} (not active)").format(id=chosen)))
            known.add(chosen)
    return options


def _page(
    rows: list[RuleRow],
    *,
    general_errors: list[str] | None = None,
    dry: DryRunInput | None = None,
    dry_errors: dict[str, str] | None = None,
    result: DryRun | None = None,
    valid: bool = False,
    note: str = "",
) -> str:
    rt = runtime()
    now = rt.clock.now()
    lang = ui_language()
    zone = rt.settings.timezone
    with rt.db.session() as session:
        versions = list_versions(session)
        audit = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.like("routing.rules.%"))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(AUDIT_SHOWN)
        ).all()
        queues = session.scalars(select(Queue.name).order_by(Queue.name)).all()
        agents = session.execute(select(Agent.id, Agent.name).where(Agent.active.is_(True)).order_by(Agent.name)).all()
        intents = session.scalars(select(Intent.name).where(Intent.active.is_(True)).order_by(Intent.name)).all()
    if not any(row.is_blank for row in rows):
        rows = [*rows, blank_row(max((r.index for r in rows), default=-1) + 1)]
    default_time = now.astimezone(rt.settings.zone).strftime("%Y-%m-%dT%H:%M")
    return render_template(
        "rules.html",
        rows=rows,
        rule_count=max((r.index for r in rows), default=-1) + 1,
        versions=versions,
        live_version=versions[0].version if versions else None,
        audit=audit,
        queues=queues,
        agents=agents,
        intents=intents,
        weekdays=weekday_names(lang),
        queue_options=[("", tr("any")), (CHOSEN_QUEUE, tr("the queue chosen so far"))] + [(n, n) for n in queues],
        agent_options=agent_choices(agents, rows),
        general_errors=general_errors or [],
        dry=dry or DryRunInput(time=default_time),
        dry_errors=dry_errors or {},
        result=result,
        valid=valid,
        note=note,
        moment=lambda dt: moment_text(dt, zone, lang, now),
    )


@bp.get("/rules")
@requires(Role.SUPERVISOR)
def rules_editor() -> ResponseReturnValue:
    """The live rule set as a form, its versions and the audit log."""
    rt = runtime()
    with rt.db.session() as session:
        versions = list_versions(session)
        rules = versions[0].rules if versions else []
    return _page(rows_from_rules(rules))


def _place_errors(errors: list[RuleError], used: list[RuleRow]) -> list[str]:
    """Put each error on its rule's field; return the ones about the set as a whole."""
    general = []
    for error in errors:
        said = explained([error.phrase])
        if error.rule_index is None or error.rule_index >= len(used):
            general.append(f"{error.field}: {said}")
            continue
        row = used[error.rule_index]
        key = form_key(error.field)
        row.errors[key] = f"{row.errors[key]}; {said}" if key in row.errors else said
    return general


def _parse_local_time(raw: str) -> datetime | None:
    rt = runtime()
    if not raw:
        return rt.clock.now()
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=rt.settings.zone)
    return local


@bp.post("/rules")
@requires(Role.SUPERVISOR)
def rules_submit() -> ResponseReturnValue:
    """Check (and dry-run) or publish the rules in the form."""
    user = signed_in_user()
    rt = runtime()
    rows = rows_from_form(request.form)
    rules, used = _rules_from_rows(rows)
    note = request.form.get("note", "").strip()[:MAX_NOTE]
    dry = DryRunInput(
        number=request.form.get("dry-number", "").strip()[:40],
        words=request.form.get("dry-words", "").strip()[:500],
        intent=request.form.get("dry-intent", "").strip()[:60],
        time=request.form.get("dry-time", "").strip()[:30],
    )
    with rt.db.session() as session:
        errors = check_rule_set(session, rules)
    if errors:
        general = [tr("The rule set has errors; see the marked fields."), *_place_errors(errors, used)]
        return _page(rows, general_errors=general, dry=dry, note=note), 422
    if request.form.get("action") == "publish":
        try:
            with rt.db.session() as session:
                version = publish_rule_set(session, rules, actor=user.username, now=rt.clock.now(), note=note or None)
                number = version.version
        except InvalidRuleSet as exc:  # something changed between the check and the publish
            general = [tr("The rule set has errors; see the marked fields."), *_place_errors(exc.errors, used)]
            return _page(rows, general_errors=general, dry=dry, note=note), 422
        flash(tr("Published as version {version}.").format(version=number))
        return redirect(url_for("console.rules_editor"))
    dry_errors: dict[str, str] = {}
    result = None
    at = _parse_local_time(dry.time)
    if at is None:
        dry_errors["dry-time"] = tr("must be a date and time like 2026-11-23T14:30")
    elif dry.number or dry.words or dry.intent:
        try:
            with rt.db.session() as session:
                result = dry_run(
                    session,
                    number=dry.number or None,
                    intent_name=dry.intent or None,
                    words=dry.words or None,
                    at=at,
                    rules=rules,
                    region=rt.settings.default_region,
                    zone=rt.settings.timezone,
                    window_days=rt.settings.repeat_window_days,
                    preferred_wait_seconds=rt.settings.preferred_agent_wait_seconds,
                )
        except UnknownIntent:
            dry_errors["dry-intent"] = tr("unknown intent '{name}'").format(name=dry.intent)
        except InvalidRuleSet as exc:
            general = [tr("The rule set has errors; see the marked fields."), *_place_errors(exc.errors, used)]
            return _page(rows, general_errors=general, dry=dry, note=note), 422
    status = 422 if dry_errors else 200
    return _page(rows, dry=dry, dry_errors=dry_errors, result=result, valid=True, note=note), status


@bp.post("/rules/rollback/<int:version>")
@requires(Role.SUPERVISOR)
def rules_rollback(version: int) -> ResponseReturnValue:
    """Publish a new version with the rules of `version`."""
    user = signed_in_user()
    rt = runtime()
    try:
        with rt.db.session() as session:
            restored = rollback_rule_set(session, version, actor=user.username, now=rt.clock.now())
            number = restored.version
    except UnknownRuleSetVersion:
        abort(404)
    except InvalidRuleSet as exc:
        with rt.db.session() as session:
            rules = next((v.rules for v in list_versions(session) if v.version == version), [])
        rows = rows_from_rules(rules)
        general = [tr("The rule set has errors; see the marked fields."), *_place_errors(exc.errors, rows)]
        return _page(rows, general_errors=general), 422
    flash(tr("Rolled back: version {version} is live.").format(version=number))
    return redirect(url_for("console.rules_editor"))
