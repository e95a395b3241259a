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
