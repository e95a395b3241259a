"""Console access: login with lock-out, CSRF on every form, role checks on every route (a crawl)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from console.models import Role, User
from console.users import MAX_FAILED_LOGINS
from tests.integration.console_support import PASSWORD, csrf_from, log_in, logged_in_client, make_user

# Routes anyone may reach: the login form itself, the language switch, logout, static files.
PUBLIC_ENDPOINTS = {"console.login", "console.logout", "console.choose_language", "console.static"}


def _sample_url(rule: Any) -> str:
    """A concrete URL for a URL rule: every variable filled with 1."""
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)


def _console_rules(app: Any) -> list[Any]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("console.")]


def test_login_starts_a_session_and_logout_ends_it(app: Any, db: Any, clock: Any) -> None:
    make_user(db, clock.now(), "karin", "supervisor")
    client = app.test_client()
    response = log_in(client, "karin")
    assert response.status_code == 302
    assert client.get("/console/board").status_code == 200
    token = csrf_from(client, "/console/board")
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/board").status_code == 302


def test_wrong_password_is_refused_and_locks_after_repeated_failures(app: Any, db: Any, clock: Any) -> None:
    make_user(db, clock.now(), "sanne", "agent")
    client = app.test_client()
    for _ in range(MAX_FAILED_LOGINS - 1):
        response = log_in(client, "sanne", "wrong password!")
        assert response.status_code == 401
        assert "verkeerd wachtwoord" in response.get_data(as_text=True)
    response = log_in(client, "sanne", "wrong password!")
    assert "geblokkeerd tot 09:15" in response.get_data(as_text=True)
    # Even the right password is refused while locked...
    assert log_in(client, "sanne", PASSWORD).status_code == 401
    # ...and works again once the lock has passed.
    clock.advance(timedelta(minutes=16))
    assert log_in(client, "sanne", PASSWORD).status_code == 302
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == "sanne"))
        assert user is not None and user.failed_logins == 0 and user.locked_until is None


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(app: Any, db: Any) -> None:
    response = log_in(app.test_client(), "nobody", "whatever password")
    assert response.status_code == 401
    assert "Onbekende gebruikersnaam of verkeerd wachtwoord" in response.get_data(as_text=True)


def test_forms_without_a_valid_csrf_token_are_refused(app: Any, db: Any, clock: Any) -> None:
    make_user(db, clock.now(), "karin", "supervisor")
    client = app.test_client()
    refused = client.post("/console/login", data={"username": "karin", "password": PASSWORD})
    assert refused.status_code == 400
    forged = client.post("/console/login", data={"username": "karin", "password": PASSWORD, "csrf_token": "x.y.z"})
    assert forged.status_code == 400
    client, _token = logged_in_client(app, db, clock.now(), "admin")
    assert client.post("/console/logout").status_code == 400
    assert client.post("/console/logout", headers={"X-CSRF-Token": "forged"}).status_code == 400


def test_next_only_follows_console_paths(app: Any, db: Any, clock: Any) -> None:
    make_user(db, clock.now(), "karin", "supervisor")
    client = app.test_client()
    token = csrf_from(client)
    data = {"username": "karin", "password": PASSWORD, "csrf_token": token, "next": "https://evil.example/"}
    response = client.post("/console/login", data=data)
    assert response.headers["Location"] == "/console/"


def test_every_console_view_declares_its_role(app: Any) -> None:
    for rule in _console_rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        view = app.view_functions[rule.endpoint]
        assert isinstance(getattr(view, "required_role", None), Role), f"{rule.rule} has no role check"


def test_crawl_as_anonymous_reaches_nothing(app: Any, db: Any) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint in {"static", "healthz"}:
            continue
        if rule.rule.startswith(("/twilio", "/api/docs")) or rule.rule == "/api/openapi.json":
            continue  # Twilio's side is guarded by signatures (webhooks' own tests); the API's documents are public
        url = _sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            checked += 1
            if rule.rule.startswith("/console"):
                if method == "GET":
                    assert response.status_code == 302, (method, url, response.status_code)
                    assert response.headers["Location"].startswith("/console/login")
                else:
                    # No session, so no CSRF secret: refused before the view runs.
                    assert response.status_code in (302, 400), (method, url, response.status_code)
            else:
                assert response.status_code == 401, (method, url, response.status_code)
    assert checked > 10


def test_crawl_as_agent_reaches_only_agent_pages(app: Any, db: Any, clock: Any, make_agent: Any) -> None:
    agent = make_agent()
    client, token = logged_in_client(app, db, clock.now(), "agent", agent_id=agent.id)
    allowed = []
    for rule in _console_rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        needed = app.view_functions[rule.endpoint].required_role
        url = _sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={"csrf_token": token})
            if needed is Role.AGENT:
                assert response.status_code != 403, (method, url)
                allowed.append(url)
            else:
                assert response.status_code == 403, (method, url, response.status_code)
    assert "/console/agent" in allowed


def test_language_is_the_users_choice(app: Any, db: Any, clock: Any) -> None:
    client, token = logged_in_client(app, db, clock.now(), "supervisor")
    assert "Supervisor board" in client.get("/console/board").get_data(as_text=True)
    client.post("/console/language", data={"language": "nl", "csrf_token": token, "next": "/console/board"})
    assert "Overzicht voor de supervisor" in client.get("/console/board").get_data(as_text=True)


def test_admin_creates_a_token_shown_once_and_revokes_it(client: Any, app: Any, db: Any, clock: Any) -> None:
    admin, token = logged_in_client(app, db, clock.now(), "admin")
    page = admin.post("/console/admin/tokens", data={"csrf_token": token, "name": "crm-sync", "role": "supervisor"})
    secret = re.search(r'<code id="token-secret">([^<]+)</code>', page.get_data(as_text=True))
    assert secret is not None
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    assert client.get("/api/whoami", headers=headers).json == {"name": "crm-sync", "role": "supervisor"}
    assert secret.group(1) not in admin.get("/console/admin/access").get_data(as_text=True)
    from console.models import ApiToken

    with db.session() as session:
        token_id = session.scalar(select(ApiToken.id))
    assert admin.post(f"/console/admin/tokens/{token_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/whoami", headers=headers).status_code == 401


def test_admin_adds_users_and_lifts_a_lock(app: Any, db: Any, clock: Any) -> None:
    admin, token = logged_in_client(app, db, clock.now(), "admin")
    short = admin.post(
        "/console/admin/users", data={"csrf_token": token, "username": "ahmed", "password": "kort", "role": "agent"}
    )
    assert short.status_code == 422 and "must be at least 10 characters" in short.get_data(as_text=True)
    data = {"csrf_token": token, "username": "ahmed", "password": PASSWORD, "role": "agent", "language": "en"}
    assert admin.post("/console/admin/users", data=data).status_code == 302
    for _ in range(MAX_FAILED_LOGINS):
        log_in(app.test_client(), "ahmed", "wrong password!")
    with db.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "ahmed"))
    assert 'class="badge bad">locked<' in admin.get("/console/admin/access").get_data(as_text=True)
    assert admin.post(f"/console/admin/users/{user_id}/unlock", data={"csrf_token": token}).status_code == 302
    assert log_in(app.test_client(), "ahmed").status_code == 302


def test_an_admin_is_refused_in_their_language(app: Any, db: Any, clock: Any) -> None:
    admin, token = logged_in_client(app, db, clock.now(), "admin", language="nl")
    role = admin.post("/console/admin/tokens", data={"csrf_token": token, "name": "crm", "role": "root"})
    assert role.status_code == 422 and "kies medewerker, supervisor of beheerder" in role.get_data(as_text=True)
    user = {"csrf_token": token, "username": "ahmed", "password": "kort", "role": "agent"}
    short = admin.post("/console/admin/users", data=user)
    assert short.status_code == 422 and "minstens 10 tekens" in short.get_data(as_text=True)
    taken = admin.post("/console/admin/users", data={**user, "username": "admin-x-nl", "password": PASSWORD})
    assert taken.status_code == 422 and "&#39;admin-x-nl&#39; is al in gebruik" in taken.get_data(as_text=True)


def test_every_page_renders_on_the_demo_contact_center(app: Any, db: Any, clock: Any) -> None:
    from zoneinfo import ZoneInfo

    from terugbel.seed import seed_demo

    with db.session() as session:
        seed_demo(session, clock.now(), ZoneInfo("Europe/Amsterdam"))
    admin, _ = logged_in_client(app, db, clock.now(), "admin")
    pages = [_sample_url(r) for r in _console_rules(app) if "GET" in r.methods and "<" not in r.rule]
    pages += ["/console/queues/1"]
    for url in pages:
        if url.startswith("/console/static"):
            continue
        response = admin.get(url, follow_redirects=True)
        assert response.status_code == 200, url


def test_session_cookie_is_http_only_and_same_site(app: Any, db: Any, clock: Any) -> None:
    make_user(db, clock.now(), "karin", "supervisor")
    response = log_in(app.test_client(), "karin")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_refused_form_gets_the_friendly_expired_page(app: Any, db: Any, clock: Any) -> None:
    client, _token = logged_in_client(app, db, clock.now(), "supervisor")
    refused = client.post("/console/incidents", data={"csrf_token": "not-the-token"})
    assert refused.status_code == 400
    assert "The form expired; please try again." in refused.get_data(as_text=True)
    anonymous = app.test_client().post("/console/language", data={"language": "en"})
    assert anonymous.status_code == 400
    assert "Het formulier is verlopen" in anonymous.get_data(as_text=True)


def test_the_token_is_accepted_in_the_field_and_the_htmx_header(app: Any, db: Any, clock: Any, make_agent: Any) -> None:
    agent = make_agent()
    client, token = logged_in_client(app, db, clock.now(), "agent", agent_id=agent.id)
    by_header = client.post(
        "/console/agent/state", data={"state": "away"}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert by_header.status_code == 200
    by_field = client.post("/console/language", data={"language": "nl", "csrf_token": token, "next": "/console/agent"})
    assert by_field.status_code == 302


def test_a_lock_out_ends_an_open_session(app: Any, db: Any, clock: Any) -> None:
    client, _ = logged_in_client(app, db, clock.now(), "supervisor")
    assert client.get("/console/board").status_code == 200
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == "supervisor-x"))
        assert user is not None
        user.locked_until = clock.now() + timedelta(minutes=15)
    assert client.get("/console/board").headers["Location"].startswith("/console/login")


def test_htmx_requests_of_an_ended_session_are_told_to_load_the_login_page(app: Any) -> None:
    response = app.test_client().get("/console/board", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/console/login"


def test_the_demos_admin_reaches_the_admin_pages_and_its_supervisor_does_not(app: Any, db: Any, clock: Any) -> None:
    from zoneinfo import ZoneInfo

    from terugbel.seed import DEMO_PASSWORD, seed_demo

    with db.session() as session:
        seed_demo(session, clock.now(), ZoneInfo("Europe/Amsterdam"))
    admin, supervisor = app.test_client(), app.test_client()
    assert log_in(admin, "joost", DEMO_PASSWORD).status_code == 302
    assert log_in(supervisor, "karin", DEMO_PASSWORD).status_code == 302
    assert admin.get("/console/admin/access").status_code == 200
    assert admin.get("/console/jobs/rq/").status_code == 200
    assert supervisor.get("/console/admin/access").status_code == 403
