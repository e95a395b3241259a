import logging
from pathlib import Path

import pytest

from terugbel.settings import SIMULATOR_ACCOUNT_SID, SettingsError, load_settings


def test_defaults_are_the_embedded_laptop_setup(tmp_path: Path) -> None:
    settings = load_settings({"TERUGBEL_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'terugbel.sqlite3'}"
    assert settings.redis_url is None
    assert settings.timezone == "Europe/Amsterdam"
    assert settings.default_region == "NL"
    assert settings.uses_simulator
    assert settings.twilio_account_sid == SIMULATOR_ACCOUNT_SID


def test_plain_postgresql_url_gets_the_psycopg_driver() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"})
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_real_twilio_credentials_turn_the_simulator_off() -> None:
    settings = load_settings(
        {
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": "x" * 32,
            "TWILIO_FROM_NUMBER": "020 123 4567",
        }
    )
    assert not settings.uses_simulator
    assert settings.twilio_from_number == "+31201234567"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"TERUGBEL_TIMEZONE": "Mars/Olympus"}, "TERUGBEL_TIMEZONE"),
        ({"TERUGBEL_DEFAULT_REGION": "XX"}, "TERUGBEL_DEFAULT_REGION"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_FROM_NUMBER": "12"}, "TWILIO_FROM_NUMBER"),
        ({"PUBLIC_BASE_URL": "example.org"}, "PUBLIC_BASE_URL"),
        ({"TERUGBEL_REPEAT_WINDOW_DAYS": "a week"}, "TERUGBEL_REPEAT_WINDOW_DAYS"),
        ({"TERUGBEL_REPEAT_WINDOW_DAYS": "0"}, "TERUGBEL_REPEAT_WINDOW_DAYS"),
        ({"TERUGBEL_PREFERRED_AGENT_WAIT_SECONDS": "-5"}, "TERUGBEL_PREFERRED_AGENT_WAIT_SECONDS"),
        ({"TERUGBEL_PREFERRED_AGENT_WAIT_SECONDS": "3600"}, "TERUGBEL_PREFERRED_AGENT_WAIT_SECONDS"),
        ({"TERUGBEL_RECONCILE_SECONDS": "half a minute"}, "TERUGBEL_RECONCILE_SECONDS"),
        ({"TERUGBEL_RECONCILE_SECONDS": "0"}, "TERUGBEL_RECONCILE_SECONDS"),
        ({"TERUGBEL_RETRY_BUSY_SECONDS": "30"}, "TERUGBEL_RETRY_BUSY_SECONDS"),
        ({"TERUGBEL_RETRY_MACHINE_SECONDS": "soon"}, "TERUGBEL_RETRY_MACHINE_SECONDS"),
        ({"TERUGBEL_FORECAST_MINUTES": "5"}, "TERUGBEL_FORECAST_MINUTES"),
        ({"TERUGBEL_LOG_FORMAT": "xml"}, "TERUGBEL_LOG_FORMAT"),
        ({"TERUGBEL_LOG_LEVEL": "LOUD"}, "TERUGBEL_LOG_LEVEL"),
        ({"TERUGBEL_LOG_LEVEL": "10"}, "TERUGBEL_LOG_LEVEL"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert caught.value.setting == setting
    assert str(caught.value).startswith(setting)


def test_routing_by_history_settings() -> None:
    assert (load_settings({}).repeat_window_days, load_settings({}).preferred_agent_wait_seconds) == (7, 60)
    tuned = load_settings({"TERUGBEL_REPEAT_WINDOW_DAYS": " 14 ", "TERUGBEL_PREFERRED_AGENT_WAIT_SECONDS": "0"})
    assert (tuned.repeat_window_days, tuned.preferred_agent_wait_seconds) == (14, 0)


def test_worker_settings() -> None:
    plain = load_settings({})
    assert (plain.reconcile_seconds, plain.worker_fork, plain.shared_test_clock) == (30, False, False)
    tuned = load_settings(
        {"TERUGBEL_RECONCILE_SECONDS": "2", "TERUGBEL_WORKER_FORK": "1", "TERUGBEL_SHARED_TEST_CLOCK": "1"}
    )
    assert (tuned.reconcile_seconds, tuned.worker_fork, tuned.shared_test_clock) == (2, True, True)
    assert load_settings({"TERUGBEL_WORKER_FORK": "yes"}).worker_fork is False  # only "1" forks, as before


def test_log_settings() -> None:
    plain = load_settings({})
    assert (plain.log_format, plain.log_level) == ("console", logging.INFO)
    tuned = load_settings({"TERUGBEL_LOG_FORMAT": " JSON ", "TERUGBEL_LOG_LEVEL": "warning"})
    assert (tuned.log_format, tuned.log_level) == ("json", logging.WARNING)


def test_demo_talk_seconds() -> None:
    assert load_settings({}).demo_talk_seconds == 5
    assert load_settings({"TERUGBEL_DEMO_TALK_SECONDS": "20"}).demo_talk_seconds == 20
    for bad in ("0", "a while", "601"):
        with pytest.raises(SettingsError) as caught:
            load_settings({"TERUGBEL_DEMO_TALK_SECONDS": bad})
        assert caught.value.setting == "TERUGBEL_DEMO_TALK_SECONDS"


def test_callback_retry_and_forecast_settings() -> None:
    defaults = load_settings({})
    assert (defaults.retry_busy_seconds, defaults.retry_no_answer_seconds) == (180, 240)
    assert (defaults.retry_machine_seconds, defaults.retry_failed_seconds, defaults.forecast_minutes) == (240, 120, 20)
    chosen = load_settings(
        {
            "TERUGBEL_RETRY_BUSY_SECONDS": "60",
            "TERUGBEL_RETRY_NO_ANSWER_SECONDS": "90",
            "TERUGBEL_RETRY_MACHINE_SECONDS": "600",
            "TERUGBEL_RETRY_FAILED_SECONDS": "3600",
            "TERUGBEL_FORECAST_MINUTES": "45",
        }
    )
    assert (chosen.retry_busy_seconds, chosen.retry_no_answer_seconds, chosen.retry_machine_seconds) == (60, 90, 600)
    assert (chosen.retry_failed_seconds, chosen.forecast_minutes) == (3600, 45)
