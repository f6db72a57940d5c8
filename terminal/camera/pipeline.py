"""One frame through the stages: detection -> landmarks -> quality gate -> (alignment -> embedding).

Embedding is the expensive stage, so it runs only on frames that passed the
quality gate and only when the caller asks. Each stage's time is recorded in
`Observation.timings` (milliseconds) for the benchmark and the journal.
Models load when a `FacePipeline` is built (about 0.5 s), never at import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from terminal.camera.alignment import align
from terminal.camera.antispoof import PassiveAntiSpoof
from terminal.camera.embedding import Embedder, SFaceEmbedder
from terminal.camera.landmarks import FaceFinder
from terminal.camera.quality import Guidance, QualityReport, QualityRules, assess


@dataclass
class Observation:
    faces: list[np.ndarray]
    quality: QualityReport
    timings: dict[str, float] = field(default_factory=dict)
    detections: int = 0


class FacePipeline:
    def __init__(self, finder: FaceFinder | None = None, embedder: Embedder | None = None,
                 rules: QualityRules | None = None, video: bool = True,
                 antispoof: PassiveAntiSpoof | None = None, detect_first: bool = True) -> None:
        self.finder = finder or FaceFinder(video=video)
        self.embedder = embedder or SFaceEmbedder()
        self.rules = rules or QualityRules()
        self.antispoof = antispoof
        self.detect_first = detect_first

    def observe(self, image: np.ndarray) -> Observation:
        timings: dict[str, float] = {}
        detections = -1
        if self.detect_first:
            t = time.perf_counter()
            detections = len(self.finder.detect(image))
            timings["detection"] = (time.perf_counter() - t) * 1000
            if detections == 0:
                return Observation([], QualityReport(Guidance.NO_FACE), timings, 0)
        t = time.perf_counter()
        faces = self.finder.landmarks(image)
        timings["landmarks"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        report = assess(image, faces, self.rules)
        timings["quality"] = (time.perf_counter() - t) * 1000
        return Observation(faces, report, timings, detections)

    def embed(self, image: np.ndarray, landmarks: np.ndarray, timings: dict[str, float] | None = None) -> np.ndarray:
        t = time.perf_counter()
        crop = align(image, landmarks)
        t1 = time.perf_counter()
        vector = self.embedder.embed(crop)
        if timings is not None:
            timings["alignment"] = (t1 - t) * 1000
            timings["embedding"] = (time.perf_counter() - t1) * 1000
        return vector

    def live_probability(self, image: np.ndarray, landmarks: np.ndarray) -> float | None:
        return None if self.antispoof is None else self.antispoof.live_probability(align(image, landmarks))

    def close(self) -> None:
        self.finder.close()
