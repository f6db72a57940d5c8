"""Raspberry Pi camera through picamera2 (libcamera), imported only when this backend is chosen."""

from __future__ import annotations

import time

from terminal.camera.frames import CameraError, CameraMissing, Frame, FrameSource


class PiCameraSource(FrameSource):
    name = "Raspberry Pi camera"

    def __init__(self, width: int = 640, height: int = 480) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError:
            raise CameraMissing("picamera2 is not installed (it exists on Raspberry Pi OS only)") from None
        try:
            self._cam = Picamera2()
            config = self._cam.create_video_configuration(main={"size": (width, height), "format": "BGR888"})
            self._cam.configure(config)
            self._cam.start()
        except (RuntimeError, IndexError, OSError) as exc:
            raise CameraMissing(f"Raspberry Pi camera not found: {exc}") from None

    def read(self) -> Frame:
        try:
            image = self._cam.capture_array("main")
        except (RuntimeError, OSError) as exc:
            raise CameraError(f"Raspberry Pi camera stopped delivering frames: {exc}") from None
        # picamera2's "BGR888" is laid out B,G,R in memory on little-endian: what OpenCV expects.
        return Frame(image[:, :, :3].copy(), time.monotonic())

    def close(self) -> None:
        cam, self._cam = getattr(self, "_cam", None), None
        if cam is not None:
            cam.stop()
            cam.close()
