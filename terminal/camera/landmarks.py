"""Face detection and 478-point landmarks with MediaPipe (BlazeFace + Face Mesh with iris refinement).

mediapipe 0.10.18 ships both models inside its wheel for x86_64 and aarch64, so
nothing is downloaded at run time. It is imported when a `FaceFinder` is
created, not at module import, so a terminal without the face stack still
starts (card payments never depend on it).

Landmarks are returned as an (N, 3) float32 array in pixels (z in the same
scale as x, relative to the face centre, from the mesh model). The image is
not mirrored: "left" below means image-left, i.e. the guest's right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Mesh indices used by quality, alignment and liveness.
IRIS_LEFT, IRIS_RIGHT = 468, 473  # image-left / image-right iris centres (refined mesh)
NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT = 1, 61, 291
FOREHEAD, CHIN, CHEEK_LEFT, CHEEK_RIGHT = 10, 152, 234, 454
EYE_LEFT = (33, 160, 158, 133, 153, 144)  # outer, upper x2, inner, lower x2 (eye-aspect-ratio order)
EYE_RIGHT = (263, 387, 385, 362, 380, 373)
FACE_OVAL = (10, 21, 54, 58, 67, 93, 103, 109, 127, 132, 136, 148, 149, 150, 152, 162, 172, 176, 234, 251, 284,
             288, 297, 323, 332, 338, 356, 361, 365, 377, 378, 379, 389, 397, 400, 454)
NOSE = (1, 2, 4, 5, 6, 19, 45, 48, 64, 94, 97, 98, 115, 168, 195, 197, 220, 275, 278, 294, 326, 327, 344, 440)
BROWS = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336)


class FaceStackMissing(ImportError):
    """mediapipe (or OpenCV) is not installed: face pay is unavailable, everything else works."""


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x, y, width, height in pixels
    score: float


class FaceFinder:
    """Detects faces and their landmarks in BGR frames.

    `video=True` lets the mesh track the face between frames (cheaper per frame, steadier landmarks);
    `video=False` treats every image independently (files, evaluation).
    """

    def __init__(self, video: bool = True, max_faces: int = 2, full_range: bool = False) -> None:
        try:
            from mediapipe.python.solutions import face_detection, face_mesh
        except ImportError as exc:
            raise FaceStackMissing(f"face pay needs mediapipe: {exc}") from None
        self._detector = face_detection.FaceDetection(model_selection=1 if full_range else 0,
                                                      min_detection_confidence=0.5)
        self._mesh = face_mesh.FaceMesh(static_image_mode=not video, max_num_faces=max_faces,
                                        refine_landmarks=True, min_detection_confidence=0.5,
                                        min_tracking_confidence=0.5)

    def detect(self, image: np.ndarray) -> list[Detection]:
        import cv2  # OpenCV loads with the face stack, never on the card path

        h, w = image.shape[:2]
        result = self._detector.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        found = []
        for det in result.detections or []:
            b = det.location_data.relative_bounding_box
            found.append(Detection((int(b.xmin * w), int(b.ymin * h), int(b.width * w), int(b.height * h)),
                                   float(det.score[0])))
        return found

    def landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        import cv2  # OpenCV loads with the face stack, never on the card path

        h, w = image.shape[:2]
        result = self._mesh.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return [np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], np.float32)
                for face in result.multi_face_landmarks or []]

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()


def eye_distance(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[IRIS_LEFT, :2] - lm[IRIS_RIGHT, :2]))


def eye_aspect_ratio(lm: np.ndarray, eye: tuple[int, ...]) -> float:
    """Soukupova & Cech's EAR: eyelid opening over eye width; ~0.25-0.35 open, < 0.15 closed."""
    p = lm[list(eye), :2]
    width = np.linalg.norm(p[0] - p[3])
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2.0 * width)) if width else 0.0


def head_pose(lm: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) from landmarks: yaw/pitch as -1..1 offsets of the nose, roll in degrees.

    yaw > 0: nose towards image-right. Cheap and good enough for "look at the camera" and the turn challenge.
    """
    left, right, nose = lm[CHEEK_LEFT, :2], lm[CHEEK_RIGHT, :2], lm[NOSE_TIP, :2]
    span = right[0] - left[0]
    yaw = float(2.0 * (nose[0] - left[0]) / span - 1.0) if span else 0.0
    eyes_mid = (lm[IRIS_LEFT, :2] + lm[IRIS_RIGHT, :2]) / 2
    height = lm[CHIN, 1] - eyes_mid[1]
    pitch = float(2.0 * (nose[1] - eyes_mid[1]) / height - 1.0) if height else 0.0
    d = lm[IRIS_RIGHT, :2] - lm[IRIS_LEFT, :2]
    roll = float(np.degrees(np.arctan2(d[1], d[0])))
    return yaw, pitch, roll
