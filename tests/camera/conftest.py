"""Shared fixtures: sample photos (from the face_recognition sdist via pip) and one loaded pipeline."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from terminal.camera.samples import sample_photos


@pytest.fixture(scope="session")
def photos() -> Path:
    return sample_photos()


@pytest.fixture(scope="session")
def still_pipeline():
    from terminal.camera.pipeline import FacePipeline

    pipeline = FacePipeline(video=False)
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def image(photos: Path):
    def load(name: str, width: int = 640) -> np.ndarray:
        img = cv2.imread(str(photos / name))
        scale = width / img.shape[1]
        return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

    return load
