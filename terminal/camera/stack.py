"""The heavy half of face pay (MediaPipe, the embedding model, OpenCV, the camera), loaded off the card path.

A terminal must take card payments as soon as it starts, on a Pi with 1-2 GB
of memory. Loading MediaPipe and the embedding model takes seconds and about
150 MB, so `FacePay` holds them through a `FaceStack` that builds them on
first use (the first face payment or enrollment, in the face thread, never
under the till's lock), or in a background thread started once the terminal
is ready, or at once (`[camera] load`). The camera itself is opened the same
way (`DeferredSource`): opening a device or reading sample photos needs OpenCV.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from terminal.camera.frames import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    CameraState,
    CameraStatus,
    Frame,
    FrameSource,
    open_source,
)

if TYPE_CHECKING:
    from terminal.camera.pipeline import FacePipeline


class FaceStack:
    """The face pipeline, built once by `build` (or given already built); every caller waits for the one build."""

    def __init__(self, build: Callable[[], FacePipeline] | None = None, *, pipeline: FacePipeline | None = None,
                 problem: str = "") -> None:
        self._build = build
        self._pipeline = pipeline
        self.problem = problem
        self.load_s: float | None = None  # how long the build took (status, benchmarks)
        self._lock = threading.Lock()
        self._loaded = threading.Event()
        self._thread: threading.Thread | None = None
        if build is None:
            self._loaded.set()

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    def load(self) -> FacePipeline | None:
        """The pipeline, built now if nobody has; None when it cannot be built (`problem` says why)."""
        if self._loaded.is_set():
            return self._pipeline
        with self._lock:
            if not self._loaded.is_set():
                started = time.perf_counter()
                try:
                    assert self._build is not None
                    self._pipeline = self._build()
                except Exception as exc:  # a missing or broken face stack never stops card payments
                    self.problem = f"face pay unavailable: {exc}"
                self.load_s = time.perf_counter() - started
                self._loaded.set()
        return self._pipeline

    def load_in_background(self) -> None:
        """Start building in a daemon thread (once the terminal is ready); a first use meanwhile waits for it."""
        if self._loaded.is_set() or self._thread is not None:
            return
        self._thread = threading.Thread(target=self.load, name="face-stack", daemon=True)
        self._thread.start()

    def replace(self, pipeline: FacePipeline | None) -> None:
        """Put a pipeline in (or take it out: tests share one between terminals and close it themselves)."""
        with self._lock:
            self._pipeline = pipeline
            self._loaded.set()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join(30)
            if self._thread.is_alive():  # a load that hangs must not hold up shutdown (the thread is a daemon)
                return
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None


class DeferredSource(FrameSource):
    """`[camera] source`, opened on the first frame. Until then `status()` judges the name without opening it."""

    def __init__(self, spec: str, opener: Callable[[str], FrameSource] | None = None) -> None:
        self.spec = spec.strip()
        self.name = f"camera {self.spec!r} (opens on first use)"
        self._opener = opener or open_source
        self._source: FrameSource | None = None
        self._lock = threading.Lock()

    def opened(self) -> FrameSource:
        with self._lock:
            if self._source is None:
                self._source = self._opener(self.spec)
            return self._source

    def read(self) -> Frame:
        return self.opened().read()

    def status(self) -> CameraStatus:
        if self._source is not None:
            return self._source.status()
        if not self.spec:
            return CameraStatus(CameraState.MISSING, "no camera configured ([camera] source is empty)")
        if self.spec == "picamera" or self.spec.isdigit():
            return CameraStatus(CameraState.READY, self.name)
        path = Path(self.spec)
        if not path.exists():
            return CameraStatus(CameraState.MISSING, f"camera source {self.spec!r}: no such device or file")
        if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            return CameraStatus(CameraState.READY, self.name)
        return CameraStatus(CameraState.MISSING, f"camera source {self.spec!r}: not an image, a video or a device "
                            "index")

    def close(self) -> None:
        with self._lock:
            if self._source is not None:
                self._source.close()
