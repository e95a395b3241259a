"""Admin pages: API tokens and console users (RQ's queues are rq-dashboard's, console/jobs_dashboard.py)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.auth import requires, runtime, signed_in_user
from console.blueprint import bp
from console.formatting import moment_text
from console.models import Role
from console.texts import tr, ui_language
from console.tokens import UnknownRole, UnknownToken, create_token, list_tokens, revoke_token
from console.users import UserError, add_user, list_users, unlock_user
from routing.models import Agent
from terugbel.audit import record_audit


def _access_page(
    *, secret: str | None = None, errors: dict[str, str] | None = None, form: dict[str, str] | None = None
) -> str:
    rt = runtime()
    now = rt.clock.now()
    lang = ui_language()
    with rt.db.session() as session:
        tokens = list_tokens(session)
        users = list_users(session)
        agents = session.execute(select(Agent.id, Agent.name).where(Agent.active.is_(True)).order_by(Agent.name)).all()
    return render_template(
        "access.html",
        tokens=tokens,
        users=users,
        agents=agents,
        secret=secret,
        errors=errors or {},
        form=form or {},
        now=now,
        moment=lambda dt: moment_text(dt, rt.settings.timezone, lang, now),
    )


@bp.get("/admin/access")
@requires(Role.ADMIN)
def access() -> ResponseReturnValue:
    """Console users and API tokens."""
    return _access_page()


@bp.post("/admin/tokens")
@requires(Role.ADMIN)
def token_create() -> ResponseReturnValue:
    """Create an API token and show its secret once."""
    rt = runtime()
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    if not name or len(name) > 80:
        return _access_page(errors={"token-name": tr("give a name of 1–80 characters")}, form={"token-name": name}), 422
    try:
        with rt.db.session() as session:
            secret = create_token(session, name=name, role=role, now=rt.clock.now())
            record_audit(
                session,
                at=rt.clock.now(),
                actor=signed_in_user().username,
                action="token.create",
                subject=f"token {name}",
                details={"role": role},
            )
    except UnknownRole:
        return _access_page(
            errors={"token-role": tr("must be agent, supervisor or admin")}, form={"token-name": name}
        ), 422
    return _access_page(secret=secret)


@bp.post("/admin/tokens/<int:token_id>/revoke")
@requires(Role.ADMIN)
def token_revoke(token_id: int) -> ResponseReturnValue:
    """Revoke an API token."""
    rt = runtime()
    try:
        with rt.db.session() as session:
            token = revoke_token(session, token_id, rt.clock.now())
            record_audit(
                session,
                at=rt.clock.now(),
                actor=signed_in_user().username,
                action="token.revoke",
                subject=f"token {token.name}",
            )
    except UnknownToken:
        abort(404)
    flash(tr("Saved."))
    return redirect(url_for("console.access"))


@bp.post("/admin/users")
@requires(Role.ADMIN)
def user_create() -> ResponseReturnValue:
    """Add a console user."""
    rt = runtime()
    form = {key: request.form.get(key, "") for key in ("username", "role", "language", "agent_id")}
    agent_id = int(form["agent_id"]) if form["agent_id"].isdigit() else None
    try:
        with rt.db.session() as session:
            add_user(
                session,
                username=form["username"],
                password=request.form.get("password", ""),
                role=form["role"],
                language=form["language"] if form["language"] in ("nl", "en") else "nl",
                agent_id=agent_id,
                now=rt.clock.now(),
            )
            record_audit(
                session,
                at=rt.clock.now(),
                actor=signed_in_user().username,
                action="user.create",
                subject=f"user {form['username'].strip()}",
                details={"role": form["role"]},
            )
    except UserError as exc:
        said = tr(exc.message).format(**exc.values)
        return _access_page(errors={f"user-{exc.field}": said}, form={f"user-{k}": v for k, v in form.items()}), 422
    flash(tr("Saved."))
    return redirect(url_for("console.access"))


@bp.post("/admin/users/<int:user_id>/unlock")
@requires(Role.ADMIN)
def user_unlock(user_id: int) -> ResponseReturnValue:
    """Lift a lock-out."""
    rt = runtime()
    try:
        with rt.db.session() as session:
            user = unlock_user(session, user_id)
            record_audit(
                session,
                at=rt.clock.now(),
                actor=signed_in_user().username,
                action="user.unlock",
                subject=f"user {user.username}",
            )
    except UserError:
        abort(404)
    flash(tr("Saved."))
    return redirect(url_for("console.access"))
