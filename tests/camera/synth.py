"""Synthesised frame sequences: a still photo moved in front of the camera, and live landmark motion."""

from __future__ import annotations

import cv2
import numpy as np

from terminal.camera.frames import Frame
from terminal.camera.landmarks import EYE_LEFT, EYE_RIGHT

FPS = 15.0


def on_canvas(photo: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    scale = min(width / photo.shape[1], height / photo.shape[0])
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 90, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
    return canvas


def moved_photo(photo: np.ndarray, n: int = 30, tilt: bool = True) -> list[Frame]:
    """The photo shifted, scaled, rotated and (optionally) tilted in depth: every motion a hand gives a print."""
    canvas = on_canvas(photo)
    h, w = canvas.shape[:2]
    frames = []
    for i in range(n):
        a = np.sin(i / n * 2 * np.pi)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 12 * a, 1.0 + 0.12 * a)
        m[:, 2] += (25 * a, 10 * np.cos(i / n * 2 * np.pi))
        img = cv2.warpAffine(canvas, m, (w, h), borderValue=(90, 90, 90))
        if tilt:  # rotate the print about its vertical axis: a perspective change of a flat object
            d = 60 * a
            src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
            dst = np.float32([[d, d / 2], [w + d, -d / 2], [w + d, h + d / 2], [d, h - d / 2]])
            dst[:, 0] -= d
            img = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=(90, 90, 90))
        frames.append(Frame(img, i / FPS))
    return frames


def still_photo(photo: np.ndarray, n: int = 30) -> list[Frame]:
    canvas = on_canvas(photo)
    return [Frame(canvas, i / FPS) for i in range(n)]


def blink_sequence(lm: np.ndarray, n: int = 20) -> list[np.ndarray]:
    """Landmarks of a live blink: eyelids close to 15 % and reopen, while the head drifts slightly."""
    out = []
    for i in range(n):
        closure = 1.0 - 0.85 * max(0.0, 1 - abs(i - n / 2) / 3)
        cur = lm.copy()
        for eye in (EYE_LEFT, EYE_RIGHT):
            idx = list(eye)
            centre_y = (lm[eye[0], 1] + lm[eye[3], 1]) / 2
            cur[idx, 1] = centre_y + (lm[idx, 1] - centre_y) * closure
        cur[:, 0] += 0.5 * i
        out.append(cur)
    return out


def turn_sequence(lm: np.ndarray, degrees: float = 30.0, n: int = 20) -> list[np.ndarray]:
    """Landmarks of a live head turn: the 3-D mesh rotated about the vertical axis, projected to the image."""
    centre = lm.mean(axis=0)
    out = []
    for i in range(n):
        t = np.radians(degrees * i / (n - 1))
        cur = lm.copy()
        x, z = lm[:, 0] - centre[0], lm[:, 2] - centre[2]
        cur[:, 0] = centre[0] + x * np.cos(t) - z * np.sin(t)
        cur[:, 2] = centre[2] + x * np.sin(t) + z * np.cos(t)
        out.append(cur)
    return out
