"""USB camera (V4L2 device index) or a video file, through OpenCV's VideoCapture."""

from __future__ import annotations

import time

import cv2

from terminal.camera.frames import CameraError, CameraMissing, Frame, FrameSource


class OpenCvSource(FrameSource):
    def __init__(self, device: int | str, width: int = 640, height: int = 480) -> None:
        self.name = f"camera {device}" if isinstance(device, int) else f"video {device}"
        self._cap = cv2.VideoCapture(device)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraMissing(f"{self.name}: cannot be opened (not connected, or in use)")
        if isinstance(device, int):
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def read(self) -> Frame:
        if self._cap is None:
            raise CameraError(f"{self.name}: closed")
        ok, image = self._cap.read()
        if not ok or image is None:
            raise CameraError(f"{self.name}: no frame (unplugged, or end of video)")
        return Frame(image, time.monotonic())

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
