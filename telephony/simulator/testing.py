"""A tiny TwiML app over real HTTP, for testing the simulator (and for other packages' experiments).

It checks every request's X-Twilio-Signature with the official RequestValidator and records what
Twilio's parameters were, so tests can assert on exactly what the simulator sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from telephony.signing import SIGNATURE_HEADER

Answer = str | tuple[str, int] | Response
Route = Callable[[dict[str, str]], Answer]


@dataclass(frozen=True)
class SeenRequest:
    path: str
    method: str
    params: dict[str, str]
    signature_valid: bool


class TwimlTestApp:
    """Serve `routes` (path -> function of the Twilio parameters returning TwiML) on 127.0.0.1."""

    def __init__(self, auth_token: str) -> None:
        self.validator = RequestValidator(auth_token)
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self.flask = Flask("twiml-test-app")
        self.flask.add_url_rule("/<path:path>", "any", self._handle, methods=["GET", "POST"])
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def route(self, path: str, answer: Route | str) -> None:
        """Answer `path` with fixed TwiML, or with what `answer(params)` returns."""
        if isinstance(answer, str):
            fixed = answer
            self.routes[path] = lambda _params: fixed
        else:
            self.routes[path] = answer

    def seen(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> TwimlTestApp:
        self._server = make_server("127.0.0.1", 0, self.flask, threaded=True)
        self._thread = threading.Thread(target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _handle(self, path: str) -> Answer:
        path = "/" + path
        params = request.form.to_dict() if request.method == "POST" else {}
        signed_params = params if request.method == "POST" else {}
        valid = self.validator.validate(request.url, signed_params, request.headers.get(SIGNATURE_HEADER, ""))
        query = request.args.to_dict()
        self.requests.append(SeenRequest(path, request.method, {**query, **params}, valid))
        if not valid:
            return "invalid signature", 403
        route = self.routes.get(path)
        if route is None:
            return "not found", 404
        answer = route({**query, **params})
        if isinstance(answer, str):
            return Response(answer, mimetype="text/xml")
        return answer
