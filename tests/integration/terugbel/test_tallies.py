"""Counts in the shared Redis hash: what every process adds, read back with their labels."""

from __future__ import annotations

import redis

from terugbel.tallies import Tally, count_twilio_api_error, observe, read_tallies, tally


def test_tallies_from_anywhere_add_up_and_a_histogram_keeps_its_own_buckets(redis_conn: redis.Redis) -> None:
    tally(redis_conn, "dial_outcomes", {"outcome": "busy"})
    tally(redis_conn, "dial_outcomes", {"outcome": "busy"})
    tally(redis_conn, "sms_errors", {"reason": "given_up"}, amount=3)
    count_twilio_api_error(redis_conn, 429)
    count_twilio_api_error(redis_conn, 503)
    observe(redis_conn, "delay_seconds", 30, (60.0, 300.0))
    observe(redis_conn, "delay_seconds", 4000.5, (60.0, 300.0))
    assert read_tallies(redis_conn) == [
        Tally("delay_seconds_bucket", (("le", "+Inf"),), 1),
        Tally("delay_seconds_bucket", (("le", "60"),), 1),
        Tally("delay_seconds_count", (), 2),
        Tally("delay_seconds_sum", (), 4030.5),
        Tally("dial_outcomes", (("outcome", "busy"),), 2),
        Tally("sms_errors", (("reason", "given_up"),), 3),
        Tally("twilio_api_errors", (("status", "503"),), 1),
        Tally("twilio_rate_limited", (), 1),
    ]


def test_a_tally_that_cannot_reach_redis_is_dropped_not_raised(redis_conn: redis.Redis) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    tally(dead, "dial_outcomes", {"outcome": "busy"})  # the call it counts goes on
    observe(dead, "delay_seconds", 1.0, (60.0,))
    assert read_tallies(redis_conn) == []
