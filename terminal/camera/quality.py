"""Quality gate before embedding: face size, pose, sharpness and light, with guidance for the guest.

A poor frame makes a poor score, and poor scores near the threshold are where
false matches live, so frames that fail are not embedded at all; the guest is
told what to change. `Guidance` codes are stable; the UI translates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from terminal.camera.landmarks import eye_distance, head_pose


class Guidance(StrEnum):
    OK = "Hold still"
    NO_FACE = "Look at the camera"
    TWO_FACES = "One person at a time, please"
    COME_CLOSER = "Come closer"
    TOO_CLOSE = "Move back a little"
    LOOK_STRAIGHT = "Look straight at the camera"
    BLURRY = "Hold still for a moment"
    TOO_DARK = "More light needed"
    TOO_BRIGHT = "Too bright: step out of the glare"
    BLINK = "Blink, please"
    TURN_LEFT = "Turn your head to your left"
    TURN_RIGHT = "Turn your head to your right"


@dataclass(frozen=True)
class QualityRules:
    min_eye_distance: float = 40.0  # pixels between the iris centres (~0.6 m from a 640x480 camera)
    max_eye_distance_fraction: float = 0.45  # of image width
    max_yaw: float = 0.30
    max_pitch: float = 0.45  # offset from a typical frontal pitch (nose about half way from eyes to chin)
    frontal_pitch: float = -0.25
    max_roll_deg: float = 20.0
    min_sharpness: float = 40.0  # variance of the Laplacian on the grey aligned-size face patch
    min_brightness: float = 50.0
    max_brightness: float = 215.0


@dataclass(frozen=True)
class QualityReport:
    guidance: Guidance
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.guidance is Guidance.OK


def face_patch(image: np.ndarray, lm: np.ndarray, size: int = 112) -> np.ndarray:
    """Grey square patch around the face, resized to `size`: sharpness and light are measured there."""
    import cv2  # OpenCV loads with the face stack, never on the card path

    x0, y0 = np.floor(lm[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(lm[:, :2].max(axis=0)).astype(int)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return np.zeros((size, size), np.uint8)
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)


def assess(image: np.ndarray, faces: list[np.ndarray], rules: QualityRules = QualityRules()) -> QualityReport:
    import cv2  # OpenCV loads with the face stack, never on the card path

    if not faces:
        return QualityReport(Guidance.NO_FACE)
    if len(faces) > 1:
        return QualityReport(Guidance.TWO_FACES)
    lm = faces[0]
    iod = eye_distance(lm)
    yaw, pitch, roll = head_pose(lm)
    patch = face_patch(image, lm)
    sharpness = float(cv2.Laplacian(patch, cv2.CV_64F).var())
    brightness = float(patch.mean())
    metrics = {"eye_distance": iod, "yaw": yaw, "pitch": pitch, "roll": roll, "sharpness": sharpness,
               "brightness": brightness}
    if iod < rules.min_eye_distance:
        guidance = Guidance.COME_CLOSER
    elif iod > rules.max_eye_distance_fraction * image.shape[1]:
        guidance = Guidance.TOO_CLOSE
    elif abs(yaw) > rules.max_yaw or abs(pitch - rules.frontal_pitch) > rules.max_pitch or \
            abs(roll) > rules.max_roll_deg:
        guidance = Guidance.LOOK_STRAIGHT
    elif brightness < rules.min_brightness:
        guidance = Guidance.TOO_DARK
    elif brightness > rules.max_brightness:
        guidance = Guidance.TOO_BRIGHT
    elif sharpness < rules.min_sharpness:
        guidance = Guidance.BLURRY
    else:
        guidance = Guidance.OK
    return QualityReport(guidance, metrics)
