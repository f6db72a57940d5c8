"""Lights, buzzer and the cancel button, through gpiozero.

On a Pi the pins are real; anywhere else (and in tests) gpiozero's
MockFactory stands in, chosen once here, so the kiosk never asks which it
got. Patterns are distinct so that a vendor who is not looking at the screen
still knows what happened: approved = green + one short beep, declined = red
+ two beeps, error = red blinking + a long beep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from terminal.config import GpioSection

log = logging.getLogger(__name__)
SIGNALS_KEPT = 50  # feedback signals remembered (the status screen shows the last)
STATES_KEPT = 64  # state changes a mock pin remembers


def on_raspberry_pi(model_file: Path = Path("/proc/device-tree/model")) -> bool:
    try:
        return model_file.read_bytes().startswith(b"Raspberry Pi")
    except OSError:
        return False


# (green (on, off, n), red (on, off, n), buzzer (on, off, n)); None = stays off
PATTERNS: dict[str, tuple[tuple[float, float, int] | None, ...]] = {
    "approved": ((1.2, 0.0, 1), None, (0.08, 0.0, 1)),
    "declined": (None, (1.5, 0.0, 1), (0.12, 0.1, 2)),
    "error": (None, (0.15, 0.15, 4), (0.6, 0.0, 1)),
}


class Feedback:
    """Green and red LEDs, a buzzer, a cancel button. `signal(kind)` never blocks (gpiozero background blink)."""

    def __init__(self, settings: GpioSection, *, on_cancel: Callable[[], None] | None = None,
                 pin_factory: Any = None) -> None:
        from gpiozero import LED, Button, Buzzer

        self.settings = settings
        if pin_factory is None:
            pin_factory = make_factory(settings.backend)
        self.factory = pin_factory
        self.mock = type(pin_factory).__name__ == "MockFactory"
        self.green = LED(settings.green_led, pin_factory=pin_factory)
        self.red = LED(settings.red_led, pin_factory=pin_factory)
        self.buzzer = Buzzer(settings.buzzer, pin_factory=pin_factory)
        self.button = Button(settings.cancel_button, pin_factory=pin_factory, bounce_time=None)
        self.signals: list[str] = []  # the last SIGNALS_KEPT signals, for the status screen and the tests
        if on_cancel is not None:
            self.button.when_pressed = lambda: on_cancel()

    def signal(self, kind: str) -> None:
        if kind not in PATTERNS:
            raise ValueError(f"unknown feedback {kind!r}; one of {', '.join(PATTERNS)}")
        self.signals.append(kind)
        del self.signals[:-SIGNALS_KEPT]  # one a sale: a festival day's would only grow
        for device, pattern in zip((self.green, self.red, self.buzzer), PATTERNS[kind], strict=True):
            if pattern is None:
                device.off()
            else:
                on, off, n = pattern
                device.blink(on_time=on, off_time=off, n=n, background=True)

    def status(self) -> dict[str, Any]:
        return {"backend": "mock" if self.mock else "pi", "green": self.settings.green_led,
                "red": self.settings.red_led, "buzzer": self.settings.buzzer,
                "cancel_button": self.settings.cancel_button}

    def close(self) -> None:
        for device in (self.green, self.red, self.buzzer, self.button):
            device.close()


def make_factory(backend: str) -> Any:
    """The pin factory for `backend`; 'auto' means real pins only on a Raspberry Pi."""
    if backend == "mock" or (backend == "auto" and not on_raspberry_pi()):
        from gpiozero.pins.mock import MockFactory, MockPin

        class RecentMockPin(MockPin):
            """gpiozero's mock pin keeps every state change it ever had (for tests' `assert_states`); a kiosk
            running on mock pins all day kept four per sale. This one keeps the last `STATES_KEPT`."""

            def _change_state(self, value: bool) -> bool:
                changed = super()._change_state(value)
                del self.states[:-STATES_KEPT]
                return changed

        return MockFactory(pin_class=RecentMockPin)
    from gpiozero import Device

    return Device._default_pin_factory()
