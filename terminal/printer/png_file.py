"""The preview 'printer': each job's PNG goes to a file, for a laptop, the demo and the docs."""

from __future__ import annotations

from pathlib import Path

from terminal.printer.transport import PrinterUnavailable, Transport


class PngTransport(Transport):
    """`path` is a directory (one numbered file per job) or a single .png file (overwritten)."""

    format = "png"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._next: int | None = None  # the next file's number in a directory (counted there once)

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
            # counted once, not per job: listing the folder for every receipt cost more as the day went on, and
            # the list of written paths it kept grew by one per receipt (found by the soak's memory trace)
            if self._next is None:
                self._next = len(list(self.path.glob("*.png"))) + 1
            target = self.path / f"{self._next:05d}-{label or 'receipt'}.png"
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise PrinterUnavailable(f"{self.describe()}: cannot write {target}: {exc}") from None
        if self._next is not None:
            self._next += 1

    def close(self) -> None:
        pass
