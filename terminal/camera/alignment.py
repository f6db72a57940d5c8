"""Five-point alignment to the 112x112 crop the embedding model was trained on.

The reference points are the ArcFace/SFace template (eyes, nose tip, mouth
corners); a similarity transform (rotation, scale, shift: no shear, so the
face is not distorted) maps the landmarks onto them.
"""

from __future__ import annotations

import cv2
import numpy as np

from terminal.camera.landmarks import IRIS_LEFT, IRIS_RIGHT, MOUTH_LEFT, MOUTH_RIGHT, NOSE_TIP

CROP_SIZE = 112
REFERENCE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                      [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)


def five_points(lm: np.ndarray) -> np.ndarray:
    return lm[[IRIS_LEFT, IRIS_RIGHT, NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT], :2].astype(np.float32)


def align(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The aligned 112x112 BGR face crop for these landmarks."""
    matrix, _ = cv2.estimateAffinePartial2D(five_points(lm), REFERENCE, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("landmarks are degenerate: cannot align the face")
    return cv2.warpAffine(image, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
