"""Lights, buzzer and cancel button on gpiozero's mock pins: distinct patterns, pins from configuration."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from terminal.gpio import PATTERNS, Feedback, GpioSection, on_raspberry_pi


@pytest.fixture
def feedback():  # type: ignore[no-untyped-def]
    cancelled: list[bool] = []
    fb = Feedback(GpioSection(green_led=5, red_led=6, buzzer=13, cancel_button=19),
                  on_cancel=lambda: cancelled.append(True), pin_factory=MockFactory())
    fb.cancelled = cancelled  # type: ignore[attr-defined]
    yield fb
    fb.close()


def _finish(fb: Feedback) -> None:
    for device in (fb.green, fb.red, fb.buzzer):
        thread = getattr(device, "_blink_thread", None)
        if thread is not None:
            thread.join(5)


def _went_high(device) -> bool:  # type: ignore[no-untyped-def]
    return any(s.state for s in device.pin.states)


@pytest.mark.parametrize(("kind", "green", "red"), [("approved", True, False), ("declined", False, True),
                                                    ("error", False, True)])
def test_patterns_light_the_right_led_and_beep(feedback: Feedback, kind: str, green: bool, red: bool) -> None:
    feedback.signal(kind)
    _finish(feedback)
    assert _went_high(feedback.green) is green
    assert _went_high(feedback.red) is red
    assert _went_high(feedback.buzzer)
    assert not feedback.green.is_lit and not feedback.red.is_lit  # every pattern ends dark


def test_patterns_are_distinct() -> None:
    assert len({repr(p) for p in PATTERNS.values()}) == len(PATTERNS)


def test_pins_come_from_configuration(feedback: Feedback) -> None:
    assert feedback.status() == {"backend": "mock", "green": 5, "red": 6, "buzzer": 13, "cancel_button": 19}
    assert str(feedback.green.pin.info.name).endswith("5")


def test_cancel_button(feedback: Feedback) -> None:
    feedback.button.pin.drive_low()
    assert feedback.cancelled == [True]  # type: ignore[attr-defined]


def test_unknown_signal_is_refused(feedback: Feedback) -> None:
    with pytest.raises(ValueError, match="unknown feedback"):
        feedback.signal("party")


def test_not_a_pi_here(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert on_raspberry_pi(model)
    assert not on_raspberry_pi(tmp_path / "missing")


def test_a_day_on_mock_pins_keeps_only_recent_history() -> None:
    """A kiosk on mock pins (the demo, a laptop) kept every pin state change and every signal: memory that grew
    with each sale all day (found by the soak's memory trace)."""
    from terminal.gpio import SIGNALS_KEPT, STATES_KEPT, make_factory

    fb = Feedback(GpioSection(green_led=5, red_led=6, buzzer=13, cancel_button=19), pin_factory=make_factory("mock"))
    try:
        for _ in range(3 * SIGNALS_KEPT):
            fb.signal("approved")
        for _ in range(3 * STATES_KEPT):
            fb.red.on()
            fb.red.off()
        _finish(fb)
        assert fb.signals == ["approved"] * SIGNALS_KEPT
        assert len(fb.red.pin.states) == STATES_KEPT and not fb.red.pin.states[-1].state
    finally:
        fb.close()
