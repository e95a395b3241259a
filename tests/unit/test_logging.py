from typing import Any

import structlog

from terugbel.logs import _mask_personal_data


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
    return ValueError('duplicate key value violates unique constraint "uq_callback_promises_open_number"\n'
                      "DETAIL:  Key (number)=(+31612345678) already exists. [parameters: {'number': '+31612345678'}]")


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
