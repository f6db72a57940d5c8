"""A small ESC/POS reader for the tests: bytes back to text lines, images, QR codes and cuts.

It knows the commands our renderer and python-escpos emit; an unknown command
is an error, so a change in the bytes cannot go unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from escpos.capabilities import get_profile

ESC, GS, DLE, LF = 0x1B, 0x1D, 0x10, 0x0A


class Incomplete(Exception):
    """The buffer ends inside a command (the server waits for more bytes)."""


class UnknownCommand(ValueError):
    pass


@dataclass
class Decoded:
    lines: list[str] = field(default_factory=list)
    bold_lines: list[str] = field(default_factory=list)
    big_lines: list[str] = field(default_factory=list)
    images: list[tuple[int, int]] = field(default_factory=list)
    qr: list[str] = field(default_factory=list)
    codepages: list[str] = field(default_factory=list)
    status_queries: list[int] = field(default_factory=list)
    cuts: int = 0
    inits: int = 0
    events: list[str] = field(default_factory=list)  # 'text', 'image', 'qr', 'cut' in order

    @property
    def text(self) -> list[str]:
        return [line.rstrip() for line in self.lines]


def command_length(buf: bytes, i: int) -> int:
    """Length of the command starting at buf[i] (a control byte). Raises Incomplete / UnknownCommand."""

    def need(n: int) -> None:
        if i + n > len(buf):
            raise Incomplete

    b = buf[i]
    need(2)
    c = buf[i + 1]
    if b == DLE and c == 0x04:
        need(3)
        return 3
    if b == ESC:
        if c == ord("@"):
            return 2
        if c in b"tE!adM-3":
            need(3)
            return 3
        if c == ord("2"):
            return 2
        raise UnknownCommand(f"ESC {c:#x}")
    if b == GS:
        if c == ord("!"):
            need(3)
            return 3
        if c == ord("V"):
            need(3)
            return 4 if buf[i + 2] in (65, 66) else 3
        if c == ord("v"):
            need(8)
            width, height = buf[i + 4] | buf[i + 5] << 8, buf[i + 6] | buf[i + 7] << 8
            need(8 + width * height)
            return 8 + width * height
        if c == ord("("):
            need(5)
            return 5 + (buf[i + 3] | buf[i + 4] << 8)
        raise UnknownCommand(f"GS {c:#x}")
    raise UnknownCommand(f"{b:#x}")


def decode(data: bytes, profile: str = "default") -> Decoded:
    pages = {int(n): name for name, n in get_profile(profile).get_code_pages().items()}
    from escpos.codepages import CodePages

    out = Decoded()
    encoding = "cp437"
    line: list[str] = []
    bold = big = False
    line_bold = line_big = False

    def flush() -> None:
        out.lines.append("".join(line))
        if line_bold:
            out.bold_lines.append(out.lines[-1].strip())
        if line_big:
            out.big_lines.append(out.lines[-1].strip())
        out.events.append("text")
        line.clear()

    i = 0
    while i < len(data):
        b = data[i]
        if b == LF:
            flush()
            line_bold, line_big = bold, big
            i += 1
            continue
        if b in (ESC, GS, DLE):
            n = command_length(data, i)
            cmd = data[i : i + n]
            c = cmd[1]
            if b == DLE:
                out.status_queries.append(cmd[2])
            elif b == ESC and c == ord("@"):
                out.inits += 1
            elif b == ESC and c == ord("t"):
                name = pages[cmd[2]]
                out.codepages.append(name)
                encoding = CodePages.get_encoding(name)["python_encode"]
            elif b == ESC and c == ord("E"):
                bold = line_bold = bool(cmd[2])
            elif b == ESC and c == ord("!"):
                big = line_big = bool(cmd[2] & 0x30)
            elif b == GS and c == ord("!"):
                big = line_big = bool(cmd[2])
            elif b == GS and c == ord("V"):
                out.cuts += 1
                out.events.append("cut")
            elif b == GS and c == ord("v"):
                out.images.append((cmd[4] * 8, cmd[6] | cmd[7] << 8))
                out.events.append("image")
            elif b == GS and c == ord("(") and cmd[2] == ord("k") and cmd[6] == 80:
                out.qr.append(cmd[8:].decode())
                out.events.append("qr")
            i += n
            continue
        if not line:
            line_bold, line_big = bold, big
        line.append(bytes((b,)).decode(encoding, errors="replace"))  # code pages are single-byte
        i += 1
    if line:
        flush()
    return out
