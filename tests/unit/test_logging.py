import json
import logging
from typing import Any

import structlog

from terugbel.logs import _mask_personal_data, configure_logging_for
from terugbel.settings import load_settings


def test_numbers_are_masked_and_words_never_logged() -> None:
    event: dict[str, Any] = {
        "event": "call from +31612345678 routed",
        "number": "+31687654321",
        "transcript": "mijn factuur klopt niet",
        "body": "1",
        "call_sid": "CA123",
    }
    cleaned = _mask_personal_data(None, "info", event)
    assert cleaned["event"] == "call from +3161234**** routed"
    assert cleaned["number"] == "+3168765****"
    assert cleaned["transcript"] == "[redacted]"
    assert cleaned["body"] == "[redacted]"
    assert cleaned["call_sid"] == "CA123"


def test_structlog_pipeline_masks(capsys: Any) -> None:
    from terugbel.logs import configure_logging, get_logger

    configure_logging()
    get_logger("t").info("hello", to="+447700900123", speech="secret words")
    err = capsys.readouterr().err
    assert "+44770090****" in err and "+447700900123" not in err
    assert "secret words" not in err
    structlog.reset_defaults()


def _clashing_number() -> Exception:
    # What a database error says of a unique index clash: the caller's number, twice.
    return ValueError(
        'duplicate key value violates unique constraint "uq_callback_promises_open_number"\n'
        "DETAIL:  Key (number)=(+31612345678) already exists. [parameters: {'number': '+31612345678'}]"
    )


def test_an_exception_s_text_is_masked_in_structlog_lines(capsys: Any) -> None:
    from terugbel.logs import configure_logging, get_logger

    configure_logging()
    try:
        raise _clashing_number()
    except ValueError:
        get_logger("t").exception("booking failed")
    err = capsys.readouterr().err
    structlog.reset_defaults()
    assert "already exists" in err and "+3161234****" in err
    assert "+31612345678" not in err


def test_an_exception_s_text_is_masked_in_standard_library_lines(capsys: Any) -> None:
    import logging

    from terugbel.logs import configure_logging

    configure_logging()
    try:
        raise _clashing_number()
    except ValueError:
        logging.getLogger("rq.worker").exception("job failed for %s", "+31687654321")
    err = capsys.readouterr().err
    structlog.reset_defaults()
    assert "already exists" in err and "job failed for +3168765****" in err
    assert "+31612345678" not in err and "+31687654321" not in err


def test_json_format_writes_one_object_a_line_with_numbers_masked(capsys: Any) -> None:
    from terugbel.logs import get_logger

    configure_logging_for(load_settings({"TERUGBEL_LOG_FORMAT": "json"}))
    get_logger("t").info("callback booked", caller="+31612345678", call_sid="CA1")
    logging.getLogger("rq.worker").info("job for %s done", "+31687654321")
    lines = capsys.readouterr().err.splitlines()
    structlog.reset_defaults()
    ours = json.loads(lines[0])
    assert (ours["event"], ours["caller"], ours["call_sid"], ours["level"]) == (
        "callback booked",
        "+3161234****",
        "CA1",
        "info",
    )
    assert lines[1] == "job for +3168765**** done"


def test_console_format_is_not_json(capsys: Any) -> None:
    from terugbel.logs import get_logger

    configure_logging_for(load_settings({"TERUGBEL_LOG_FORMAT": "console"}))
    get_logger("t").info("callback booked", call_sid="CA1")
    err = capsys.readouterr().err
    structlog.reset_defaults()
    assert "callback booked" in err and "call_sid=CA1" in err
    assert not err.lstrip().startswith("{")


def test_the_level_setting_drops_lines_below_it(capsys: Any) -> None:
    from terugbel.logs import get_logger

    configure_logging_for(load_settings({"TERUGBEL_LOG_LEVEL": "WARNING"}))
    get_logger("t").info("an info line")
    get_logger("t").warning("a warning line")
    logging.getLogger("flask.app").info("a library's info line")
    logging.getLogger("flask.app").warning("a library's warning line")
    err = capsys.readouterr().err
    structlog.reset_defaults()
    configure_logging_for(load_settings({}))
    structlog.reset_defaults()
    assert "a warning line" in err and "a library's warning line" in err
    assert "an info line" not in err and "a library's info line" not in err
