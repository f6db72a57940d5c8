"""The preview 'printer': each job's PNG goes to a file, for a laptop, the demo and the docs."""

from __future__ import annotations

from pathlib import Path

from terminal.printer.transport import PrinterUnavailable, Transport


class PngTransport(Transport):
    """`path` is a directory (one numbered file per job) or a single .png file (overwritten)."""

    format = "png"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.written: list[Path] = []

    def describe(self) -> str:
        return f"png:{self.path}"

    def open(self) -> None:
        folder = self.path.parent if self.path.suffix.lower() == ".png" else self.path
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PrinterUnavailable(f"{self.describe()}: cannot create folder: {exc}") from None

    def write(self, data: bytes, label: str = "") -> None:
        if self.path.suffix.lower() == ".png":
            target = self.path
        else:
            n = len(list(self.path.glob("*.png"))) + 1
            target = self.path / f"{n:05d}-{label or 'receipt'}.png"
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise PrinterUnavailable(f"{self.describe()}: cannot write {target}: {exc}") from None
        self.written.append(target)

    def close(self) -> None:
        pass
