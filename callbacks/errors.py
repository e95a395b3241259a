"""What can go wrong when a callback is booked, moved or cancelled: answers, not crashes."""

from __future__ import annotations

from terugbel.i18n import t


class CallbackError(Exception):
    """A callback could not be booked, moved or cancelled as asked."""


class SlotFull(CallbackError):
    """The chosen slot has no place left (or is closed, or already started)."""


class NoSlotAvailable(CallbackError):
    """No slot with room in the coming days."""


class PromiseNotFound(CallbackError):
    """No open promise with that id (or for that number)."""


class PromiseBusy(CallbackError):
    """The promise is being kept right now (dialling or connected): it cannot be moved."""


class UnusableNumber(CallbackError):
    """The number cannot be called or texted; `reason` is a catalogue key for the caller."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason

    def message(self, lang: str | None) -> str:
        return t(lang, self.reason)
