"""Demo only: the wristbands lying next to the emulated reader, and the hand that taps them.

Each wristband is an emulated card (NTAG or DESFire) kept in a state file; a tap places it on
the same `EmulatedReader` the card loop waits on (so the app cannot tell it
from a real reader), waits until the loop has handled it and takes it away;
the card writes through to its file on every change, like a real tag.
`tear` pulls it away part-way through the write, to show the
"tap the same wristband again" recovery.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from terminal.cardloop import CardLoop
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import DesfireEmulator, NtagEmulator, load_card, new_card

TAP_TIMEOUT_S = 10.0


class SimulatorError(ValueError):
    pass


class Simulator:
    def __init__(self, reader: EmulatedReader, card_loop: CardLoop, folder: Path, *,
                 product: str = "NTAG215", face: Any = None, faces_dir: Path | None = None) -> None:
        self.reader = reader
        self.product = product  # chip of a new wristband
        self.card_loop = card_loop
        self.folder = folder
        self._cards: dict[str, NtagEmulator | DesfireEmulator] = {}
        self._lock = threading.Lock()
        self.on_reader: str | None = None
        self.face: Any = face  # the till's FacePay, when the demo has a camera
        self.faces_dir: Path | None = faces_dir  # sample photos the "camera" can be shown
        self.showing: str = ""

    # --- the camera: a person (a sample photo) in front of it ---------------------------------------------------

    def faces(self) -> dict[str, Any]:
        photos = sorted(p.name for p in self.faces_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                        and not p.name.startswith("_")) if self.faces_dir and self.faces_dir.is_dir() else []
        return {"photos": photos, "showing": self.showing,
                "liveness_off": bool(self.face is not None and self.face.liveness_off)}

    def show_face(self, photo: str, *, spoof: bool = False) -> dict[str, Any]:
        """Put a sample photo in front of the camera ('' = nobody). `spoof`: with liveness on, as a real terminal
        would judge it (the photo is refused); otherwise the demo's configured liveness setting applies."""
        from terminal.camera.source_files import FrameListSource, ImageFileSource

        if self.face is None or self.faces_dir is None:
            raise SimulatorError("the demo has no camera")
        if photo and photo not in self.faces()["photos"]:
            raise SimulatorError(f"no photo {photo!r} in the demo")
        import numpy as np

        old = self.face.source
        self.face.source = ImageFileSource(self.faces_dir / photo) if photo else FrameListSource(
            [np.full((480, 640, 3), 90, np.uint8)])
        old.close()
        self.face.liveness_off = (not spoof) and self.face.demo and self.face.settings.liveness == "demo-off"
        self.showing = photo
        return self.faces()

    @property
    def manifest_path(self) -> Path:
        return self.folder / "cards.json"

    def manifest(self) -> list[dict[str, str]]:
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return []

    def cards(self) -> list[dict[str, Any]]:
        return [{"name": c["name"], "label": c["label"], "on_reader": c["name"] == self.on_reader}
                for c in self.manifest()]

    def tap(self, name: str, *, tear: int | None = None) -> dict[str, Any]:
        """Place the wristband, wait for the card loop to finish with it, take it away."""
        with self._lock:
            card = self._card(name)
            self._take_away()
            before = self.card_loop.handled
            if tear is not None:
                card.tear_after(tear)
            self.reader.place(card)
            handled = self.card_loop.wait_handled(before + 1, TAP_TIMEOUT_S)
            self.reader.remove()
        return {"handled": handled}

    def place(self, name: str) -> dict[str, Any]:
        """Put the wristband down and leave it there (a guest who keeps it on the reader)."""
        with self._lock:
            card = self._card(name)
            self._take_away()
            self.reader.place(card)
            self.on_reader = name
        return {"on_reader": name}

    def remove(self) -> dict[str, Any]:
        with self._lock:
            self._take_away()
        return {"on_reader": None}

    def new_card(self, label: str = "") -> dict[str, Any]:
        with self._lock:
            entries = self.manifest()
            n = len(entries) + 1
            name = f"new-{n}"
            while any(e["name"] == name for e in entries):
                n += 1
                name = f"new-{n}"
            card = new_card(self.product)
            card.write_through(self._path(name))
            entries.append({"name": name, "label": label.strip()[:40] or f"New wristband {n}"})
            self._write_manifest(entries)
            self._cards[name] = card
        return {"name": name}

    def add(self, name: str, label: str, card: NtagEmulator | DesfireEmulator) -> None:
        """Used when the demo is set up: register a prepared wristband."""
        self.folder.mkdir(parents=True, exist_ok=True)
        card.save(self._path(name))
        entries = [e for e in self.manifest() if e["name"] != name]
        entries.append({"name": name, "label": label})
        self._write_manifest(entries)

    def _take_away(self) -> None:
        if self.on_reader is not None:
            self.reader.remove()
            self.on_reader = None

    def _card(self, name: str) -> NtagEmulator | DesfireEmulator:
        """The band as its file says now: several demo terminals may share one table of wristbands."""
        if name == self.on_reader:
            return self._cards[name]
        if not any(e["name"] == name for e in self.manifest()):
            raise SimulatorError(f"no wristband {name!r} in the demo")
        card = load_card(self._path(name))
        card.write_through(self._path(name))  # like a real tag: a write is kept whatever happens to us
        self._cards[name] = card
        return self._cards[name]

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def _write_manifest(self, entries: list[dict[str, str]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1, ensure_ascii=False))
        os.replace(tmp, self.manifest_path)
