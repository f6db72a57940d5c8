"""Fixtures for the privacy tests: the sync tests' real PostgreSQL server and stores, one loaded face pipeline,
and a carver that looks for bytes in the raw files a stolen SD card or database server would give away."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from terminal.camera.samples import sample_photos
from tests.sync.conftest import pg_server, store, store_target  # noqa: F401  (fixtures shared with tests/sync)


@pytest.fixture(scope="session")
def still_pipeline() -> Iterator[object]:
    from terminal.camera.pipeline import FacePipeline

    pipeline = FacePipeline(video=False)
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def image():  # type: ignore[no-untyped-def]
    photos = sample_photos()

    def load(name: str, width: int = 640) -> np.ndarray:
        img = cv2.imread(str(photos / name))
        scale = width / img.shape[1]
        return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

    return load


def carve(files: Iterable[Path], needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Which needles occur in which files (raw bytes, as read from the disk): {needle name: [file, ...]}."""
    found: dict[str, list[str]] = {}
    for path in files:
        if not path.is_file():
            continue
        data = path.read_bytes()
        for name, needle in needles.items():
            if needle and needle in data:
                found.setdefault(name, []).append(str(path))
    return found


def sqlite_files(*databases: Path) -> list[Path]:
    """Each database with its -wal and -shm companions (those that exist)."""
    return [p for db in databases for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


from tests.ui.conftest import demo, demo_template, face_pipeline  # noqa: E402,F401  (the real demo terminal)
