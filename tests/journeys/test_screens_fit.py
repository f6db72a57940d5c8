"""Every primary action is on screen without scrolling at 800x480, for every role, and every touch target
visible there is at least 48x48 px."""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import SMALL

# (role's login, screen, tab to open first or None, primary buttons that must be fully on screen)
SCREENS = [
    (None, "/login", None, ["login-submit"]),
    (("1", "1111"), "/sale", None, ["charge", "product-BEER", "logout"]),
    (("1", "1111"), "/sale", "tab-keypad", ["add-amount", "charge", "logout"]),
    (("2", "2222"), "/cashier", None, ["topup-cash", "topup-card", "topup-voucher", "topup-comp", "logout"]),
    (("2", "2222"), "/cashier", "tab-issue", ["issue-cash", "issue-comp", "logout"]),
    (("2", "2222"), "/cashier", "tab-replace", ["replace-start", "report-lost", "logout"]),
    (("9", "9999"), "/sale", None, ["charge", "void", "logout"]),
]


def _inside(box: dict[str, float]) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= SMALL["width"] + 0.5 \
        and box["y"] + box["height"] <= SMALL["height"] + 0.5


def test_primary_actions_fit_800x480_and_targets_are_48px(collector, terminals, screens) -> None:  # type: ignore[no-untyped-def]
    terminal = terminals.start(collector, role="cashier")
    problems: list[str] = []
    for login, path, tab, primary in SCREENS:
        screen = screens(terminal, "screens")
        if login:
            screen.login(*login)
        screen.goto(path)
        if tab:
            screen.click(tab)
        for test_id in primary:
            box = screen.by(test_id).bounding_box()
            if box is None or not _inside(box):
                problems.append(f"{path} {tab or ''}: {test_id} not fully on screen ({box})")
        small: list[Any] = screen.page.evaluate("""() => [...document.querySelectorAll('button, a.small, input')]
            .filter((el) => el.offsetParent !== null && !el.closest('.sim'))
            .map((el) => { const r = el.getBoundingClientRect();
                           return {t: (el.dataset.testid || el.textContent || el.name || '').trim().slice(0, 30),
                                   w: r.width, h: r.height}; })
            .filter((b) => b.w < 48 || b.h < 48)""")
        problems += [f"{path} {tab or ''}: {b['t']!r} is {b['w']:.0f}x{b['h']:.0f}" for b in small]
        screen.shot(f"{path.strip('/')}-{tab or 'main'}")
        screen.close()
    assert not problems, "\n".join(problems)
