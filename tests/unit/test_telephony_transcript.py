from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from telephony.simulator.transcript import CallTranscript


def test_transcript_lines_show_the_time_the_caller_hears() -> None:
    transcript = CallTranscript("CA1", "+31612345678", "+3197010000000", "inbound", status="completed")
    transcript.add(datetime(2026, 7, 1, 12, 30, 5, tzinfo=UTC), "system", "Goedemiddag.", "Say")
    transcript.add(datetime(2026, 12, 1, 12, 30, 9, tzinfo=UTC), "caller", "storing", "Gather")

    lines = transcript.to_text(ZoneInfo("Europe/Amsterdam")).splitlines()

    assert lines[1] == "14:30:05  system [Say] Goedemiddag."  # summer time, UTC+2
    assert lines[2] == "13:30:09  caller [Gather] storing"  # winter time, UTC+1
    assert transcript.to_text().splitlines()[1].startswith("12:30:05")  # no zone: as recorded
    assert lines[-1] == "status: completed"
