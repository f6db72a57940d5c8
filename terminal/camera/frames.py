"""Frame sources: one interface, several backends (Pi camera, USB camera, files, memory).

Face pay only ever reads frames through `FrameSource`; which backend it got is
decided once by `open_source()` from `[camera] source`. A missing or broken
camera is reported as a `CameraStatus`, never raised into the sale loop: card
payments must keep working without a camera (DESIGN.md, "What bad input gets").

A backend must implement `read()` (one BGR frame, or raise `CameraError`) and
may override `close()`. Backends:

- `terminal.camera.source_picamera.PiCameraSource`: Raspberry Pi camera via
  picamera2, imported only when chosen (it needs libcamera, Raspberry Pi OS only).
- `terminal.camera.source_opencv.OpenCvSource`: USB camera (device index) or a video file.
- `terminal.camera.source_files.ImageFileSource` / `FrameListSource`: still images and
  in-memory sequences, used by the demo and the tests as first-class backends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np


class CameraError(Exception):
    """The camera cannot deliver a frame; the message is for the operator."""


class CameraMissing(CameraError):
    """No camera configured, or the configured one is not there."""


class CameraState(StrEnum):
    READY = "ready"
    MISSING = "camera missing"
    BROKEN = "camera broken"


@dataclass(frozen=True)
class CameraStatus:
    state: CameraState
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.state is CameraState.READY


@dataclass(frozen=True)
class Frame:
    """One BGR uint8 image and when it was taken (monotonic seconds)."""

    image: np.ndarray
    timestamp: float = field(default_factory=time.monotonic)


class FrameSource:
    """Base class of all frame sources. Subclasses must override `read`."""

    name = "source"

    def read(self) -> Frame:
        raise CameraError(f"{self.name}: reading frames is not supported")

    def close(self) -> None:
        """Release the device; safe to call twice."""

    def status(self) -> CameraStatus:
        return CameraStatus(CameraState.READY, self.name)

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NoCamera(FrameSource):
    """Stands in when no camera is configured or it failed to open: every read says why."""

    name = "no camera"

    def __init__(self, reason: str = "no camera configured", state: CameraState = CameraState.MISSING) -> None:
        self.reason = reason
        self.state = state

    def read(self) -> Frame:
        raise CameraMissing(self.reason)

    def status(self) -> CameraStatus:
        return CameraStatus(self.state, self.reason)


VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def open_source(spec: str) -> FrameSource:
    """Open the source named in `[camera] source`; never raises, returns `NoCamera` with the reason instead.

    '' = no camera; 'picamera'; a device index ('0'); an image file, a folder of images, or a video file.
    """
    spec = spec.strip()
    if not spec:
        return NoCamera("no camera configured ([camera] source is empty)")
    try:
        if spec == "picamera":
            from terminal.camera.source_picamera import PiCameraSource

            return PiCameraSource()
        if spec.isdigit():
            from terminal.camera.source_opencv import OpenCvSource

            return OpenCvSource(int(spec))
        path = Path(spec)
        if not path.exists():
            return NoCamera(f"camera source {spec!r}: no such device or file")
        if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
            from terminal.camera.source_files import ImageFileSource

            return ImageFileSource(path)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            from terminal.camera.source_opencv import OpenCvSource

            return OpenCvSource(str(path))
        return NoCamera(f"camera source {spec!r}: not an image, a video or a device index")
    except CameraError as exc:
        return NoCamera(str(exc), CameraState.MISSING if isinstance(exc, CameraMissing) else CameraState.BROKEN)
    except ImportError as exc:
        return NoCamera(f"camera source {spec!r} needs a module that is not installed: {exc.name}")
