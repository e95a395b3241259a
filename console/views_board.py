"""The supervisor board: callers in the menu and queues, agents, callbacks due, promises at risk."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from console.auth import requires, runtime
from console.blueprint import bp
from console.board_summary import summarise
from console.formatting import duration_text, moment_text, percent_text, window_text
from console.models import Role
from console.queries import supervisor_board
from console.texts import ui_language
from console.views_metrics import compute_numbers


def _board_context() -> dict[str, object]:
    rt = runtime()
    now = rt.clock.now()
    with rt.db.session() as session:
        board = supervisor_board(session, now)
    today = now.astimezone(rt.settings.zone).date()
    today_numbers = compute_numbers(today, today)[0][-1]
    lang = ui_language()
    zone = rt.settings.timezone
    return {
        "board": board,
        "summary": summarise(board, today_numbers),
        "percent": percent_text,
        "moment": lambda dt: moment_text(dt, zone, lang, now),
        "window": lambda p: window_text(p.window_start, p.window_end, p.timezone, lang, now),
        "duration": duration_text,
    }


@bp.get("/board")
@requires(Role.SUPERVISOR)
def board() -> ResponseReturnValue:
    """The live board."""
    return render_template("board.html", **_board_context())


@bp.get("/board/panel")
@requires(Role.SUPERVISOR)
def board_panel() -> ResponseReturnValue:
    """The self-updating body of the board (htmx polls it)."""
    return render_template("board_panel.html", **_board_context())
