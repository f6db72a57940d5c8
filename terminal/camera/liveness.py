"""Liveness: an active challenge (blink, or turn the head) checked against what a flat photo can do.

Any motion of a flat picture (printed, or on a phone screen) in front of the
camera - shifted, scaled, rotated, tilted - maps its landmarks from one frame
to the next by a single homography. A live face does not: eyelids close
relative to the rest of the face, and a head turn moves the nose against the
cheeks (parallax). So each frame's landmarks are compared with the first
frame's through a homography fitted on the rigid part of the face:

- blink: eye opening measured against the opening the homography predicts; a
  blink is a drop below `closed_ratio` and a return above `open_ratio`;
- head turn: the yaw must change in the asked direction *and* the landmarks
  must leave the best planar fit by `min_parallax` (in eye distances).

Consistency over frames: exactly one face in every frame, no gap longer than
`max_gap_s`, no jump of the face between frames, everything within
`timeout_s`. Which challenge is asked is chosen at random per payment, so a
recorded video must also guess it. Replayed video of a blink is what the
optional passive model (`terminal.camera.antispoof`) is for.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from terminal.camera.landmarks import (
    BROWS,
    EYE_LEFT,
    EYE_RIGHT,
    FACE_OVAL,
    NOSE,
    eye_aspect_ratio,
    eye_distance,
    head_pose,
)
from terminal.camera.quality import Guidance

RIGID = np.array(sorted(set(FACE_OVAL) | set(NOSE) | set(BROWS)))


class Challenge(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn left"  # the guest's left: the nose moves to image-right (camera image is not mirrored)
    TURN_RIGHT = "turn right"

    @property
    def guidance(self) -> Guidance:
        return {Challenge.BLINK: Guidance.BLINK, Challenge.TURN_LEFT: Guidance.TURN_LEFT,
                Challenge.TURN_RIGHT: Guidance.TURN_RIGHT}[self]


def pick_challenge(allowed: Sequence[Challenge] = tuple(Challenge)) -> Challenge:
    return secrets.choice(list(allowed))


class Status(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class LivenessRules:
    closed_ratio: float = 0.55
    open_ratio: float = 0.80
    turn_yaw: float = 0.20
    min_parallax: float = 0.035
    max_gap_s: float = 0.5
    max_jump: float = 1.0  # face centre movement between frames, in eye distances
    timeout_s: float = 6.0


@dataclass(frozen=True)
class LivenessState:
    status: Status
    guidance: Guidance
    reason: str = ""


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    import cv2  # OpenCV loads with the face stack, never on the card path

    h, _ = cv2.findHomography(src.astype(np.float32), dst.astype(np.float32), 0)
    return h


def _warp(points: np.ndarray, h: np.ndarray) -> np.ndarray:
    import cv2  # OpenCV loads with the face stack, never on the card path

    return cv2.perspectiveTransform(points[None, :, :2].astype(np.float32), h)[0]


def eye_opening_ratio(baseline: np.ndarray, lm: np.ndarray) -> float:
    """Eye opening now / what the baseline eyes would look like after the rigid face's planar motion."""
    h = _homography(baseline[RIGID, :2], lm[RIGID, :2])
    if h is None:
        return 1.0
    predicted = baseline[:, :2].copy()
    ratios = []
    for eye in (EYE_LEFT, EYE_RIGHT):
        idx = list(eye)
        predicted[idx] = _warp(baseline[idx], h)
        expected = eye_aspect_ratio(predicted, eye)
        ratios.append(eye_aspect_ratio(lm, eye) / expected if expected > 0 else 1.0)
    return float(np.mean(ratios))


def parallax(baseline: np.ndarray, lm: np.ndarray) -> float:
    """RMS distance of all landmarks from the best planar (homography) fit, in baseline eye distances."""
    n = min(len(baseline), 468)
    h = _homography(baseline[:n, :2], lm[:n, :2])
    if h is None:
        return 0.0
    residual = _warp(baseline[:n], h) - lm[:n, :2]
    return float(np.sqrt((residual**2).sum(axis=1).mean()) / max(eye_distance(baseline), 1.0))


class LivenessCheck:
    """Feed it each frame's faces; it says when the challenge is met or failed. One instance per payment."""

    def __init__(self, challenge: Challenge, rules: LivenessRules = LivenessRules()) -> None:
        self.challenge = challenge
        self.rules = rules
        self._baseline: np.ndarray | None = None
        self._start: float | None = None
        self._last_t: float | None = None
        self._closed = False
        self._prev_centre: np.ndarray | None = None
        self.state = LivenessState(Status.PENDING, challenge.guidance)
        self.peak: dict[str, float] = {"min_eye_ratio": 1.0, "max_parallax": 0.0, "max_yaw_change": 0.0}

    def _restart(self, lm: np.ndarray | None, t: float, guidance: Guidance) -> LivenessState:
        self._baseline, self._closed, self._last_t = lm, False, t
        self._prev_centre = None if lm is None else lm[:, :2].mean(axis=0)
        self.state = LivenessState(Status.PENDING, guidance)
        return self.state

    def feed(self, faces: Sequence[np.ndarray], t: float) -> LivenessState:
        if self.state.status is not Status.PENDING:
            return self.state
        if self._start is None:
            self._start = t
        if t - self._start > self.rules.timeout_s:
            self.state = LivenessState(Status.FAILED, Guidance.NO_FACE, "challenge not met in time")
            return self.state
        if len(faces) != 1:
            return self._restart(None, t, Guidance.NO_FACE if not faces else Guidance.TWO_FACES)
        lm = faces[0]
        base = self._baseline
        if base is None or self._last_t is None or t - self._last_t > self.rules.max_gap_s:
            return self._restart(lm, t, self.challenge.guidance)
        centre = lm[:, :2].mean(axis=0)
        prev, self._prev_centre = self._prev_centre, centre
        jump = 0.0 if prev is None else float(np.linalg.norm(centre - prev)) / max(eye_distance(base), 1.0)
        self._last_t = t
        if jump > self.rules.max_jump:
            return self._restart(lm, t, self.challenge.guidance)
        if self.challenge is Challenge.BLINK:
            ratio = eye_opening_ratio(base, lm)
            self.peak["min_eye_ratio"] = min(self.peak["min_eye_ratio"], ratio)
            if ratio < self.rules.closed_ratio:
                self._closed = True
            elif self._closed and ratio > self.rules.open_ratio:
                self.state = LivenessState(Status.PASSED, Guidance.OK, "blink")
        else:
            change = head_pose(lm)[0] - head_pose(base)[0]
            if self.challenge is Challenge.TURN_RIGHT:
                change = -change
            p = parallax(base, lm)
            self.peak["max_yaw_change"] = max(self.peak["max_yaw_change"], change)
            self.peak["max_parallax"] = max(self.peak["max_parallax"], p)
            if change > self.rules.turn_yaw and p > self.rules.min_parallax:
                self.state = LivenessState(Status.PASSED, Guidance.OK, "head turn")
        return self.state
