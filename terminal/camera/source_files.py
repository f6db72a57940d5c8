"""Still images and in-memory frame sequences as frame sources (demo and tests).

These are real backends, not mocks: the demo plays a face from a file, and the
tests feed synthesised sequences (a photo shifted, scaled, rotated in front of
the camera) through exactly the code path a live camera uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from terminal.camera.frames import IMAGE_SUFFIXES, CameraError, CameraMissing, Frame, FrameSource


def read_image(path: Path | str) -> np.ndarray:
    """Read an image file as BGR uint8; clear error for a missing or unreadable file."""
    import cv2  # OpenCV loads with the face stack, never on the card path

    path = Path(path)
    if not path.is_file():
        raise CameraMissing(f"{path}: no such image file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise CameraError(f"{path}: not a readable image")
    return image


class FrameListSource(FrameSource):
    """Plays a list of images in a loop, one per `read()`, at a nominal frame rate."""

    name = "frame list"

    def __init__(self, images: Sequence[np.ndarray], fps: float = 15.0, loop: bool = True) -> None:
        if not images:
            raise CameraMissing("frame list is empty")
        self._images = list(images)
        self._fps = fps
        self._loop = loop
        self._index = 0
        self._count = 0  # frames delivered: timestamps keep increasing when the list loops (liveness times out)

    def read(self) -> Frame:
        if self._index >= len(self._images):
            if not self._loop:
                raise CameraError(f"{self.name}: no more frames")
            self._index = 0
        image = self._images[self._index]
        self._index += 1
        self._count += 1
        return Frame(image, self._count / self._fps)


class ImageFileSource(FrameListSource):
    """One image file, or every image in a folder (sorted by name)."""

    def __init__(self, path: Path | str, fps: float = 15.0) -> None:
        path = Path(path)
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else [path]
        super().__init__([read_image(p) for p in files], fps=fps)
        self.name = f"images {path}"
