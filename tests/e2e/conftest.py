"""Fixtures shared by the whole-call tests: the simulated Twilio, and the callback world of test_callback_*.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from telephony.simulator import Simulator
from terugbel.clock import ManualClock
from terugbel.runtime import Runtime
from tests.e2e.callback_driver import CallbackWorld


@pytest.fixture
def sim(live_app: Any, runtime: Runtime, clock: ManualClock) -> Iterator[Simulator]:
    """The simulated Twilio against the app served over HTTP; the app's texts and call redirects go to its REST API."""
    simulator = Simulator(clock=clock, app_base_url=live_app.base_url).start()
    runtime.settings = runtime.settings.with_overrides(twilio_api_base_url=simulator.rest_base_url)
    runtime._telephony = None
    yield simulator
    simulator.stop()


@pytest.fixture
def world(runtime: Any, live_app: Any, clock: Any) -> Iterator[CallbackWorld]:
    simulator = Simulator(clock=clock, app_base_url=live_app.base_url, calls_per_second=10).start()
    runtime.settings = runtime.settings.with_overrides(
        twilio_api_base_url=simulator.rest_base_url, calls_per_second=200
    )
    runtime._telephony = None
    yield CallbackWorld(runtime, simulator, clock)
    simulator.stop()


@pytest.fixture
def technisch(make_queue: Any) -> Any:
    # All agent time may go to callbacks: one agent on shift gives every slot room for a new booking.
    return make_queue("technisch", callback_share=1.0)
