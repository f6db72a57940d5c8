"""One table of exit codes for every `stallpay` command.

Scripts (provisioning, the upload timer, an organizer's shell history) branch on
these numbers, so every command uses the same meaning for the same number and
`stallpay --help` and the README print this very table.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    DONE = 0
    REFUSED = 1
    USAGE = 2
    DEVICE = 3
    TAP_AGAIN = 4


MEANINGS: dict[Exit, str] = {
    Exit.DONE: "done",
    Exit.REFUSED: "refused: a rule or a check said no (declined payment, blocked card, wrong role, refused batch, "
                  "failed self-test, nothing to do); the reason is one line on stderr",
    Exit.USAGE: "usage or configuration problem: bad arguments, or a configuration, key file, database or input "
                "file that is missing or invalid",
    Exit.DEVICE: "a device or service is unavailable: card, reader, printer, camera, port in use, pcscd/vpcd",
    Exit.TAP_AGAIN: "the card left before the write was confirmed: tap the same card again",
}


def table() -> str:
    """The table as plain text, for `--help` epilogs."""
    return "exit codes:\n" + "\n".join(f"  {int(code)}  {text}" for code, text in MEANINGS.items())


def markdown() -> str:
    """The table as Markdown, for the README (a test keeps the two equal)."""
    rows = "\n".join(f"| {int(code)} | {text} |" for code, text in MEANINGS.items())
    return "| code | meaning |\n|---|---|\n" + rows
