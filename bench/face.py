"""Face pay benchmark: per-stage time per frame, 1:N search time, face-to-decision time, and SFace vs dlib.

Run: .venv/bin/python bench/face.py  (prints JSON). Images: the photos in the
face_recognition sdist (terminal.camera.samples). The dlib side is the
face_recognition pipeline done with dlib directly (HOG detector, 68-point
landmarks, ResNet from face-recognition-models): the face_recognition 1.3.0
package itself wants a 5-point model that face-recognition-models 0.1.3 on
PyPI no longer ships.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import time
from importlib import resources
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
# bench/kiosk.py would shadow the terminal package: put the repository first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

from terminal.camera.decision import DecisionPolicy, decide
from terminal.camera.evaluation import eer
from terminal.camera.matcher import search
from terminal.camera.pipeline import FacePipeline
from terminal.camera.samples import PERSON, PHOTOS, sample_photos

REPEAT = 30


def median_ms(fn, repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 3)


def load_images() -> dict[str, np.ndarray]:
    folder = sample_photos()
    out = {}
    for name in PHOTOS:
        img = cv2.imread(str(folder / name))
        out[name] = cv2.resize(img, None, fx=640 / img.shape[1], fy=640 / img.shape[1], interpolation=cv2.INTER_AREA)
    return out


def camera_frame(img: np.ndarray) -> np.ndarray:
    frame = np.full((480, 640, 3), 90, np.uint8)
    h = min(480, img.shape[0])
    frame[:h] = img[:h]
    return frame


def separation(same: list[float], diff: list[float]) -> dict[str, float]:
    s, d = np.array(same), np.array(diff)
    dprime = (s.mean() - d.mean()) / np.sqrt((s.var() + d.var()) / 2)
    rate, _ = eer(s, d)
    return {"d_prime": round(float(dprime), 3), "eer": round(rate, 4), "gap": round(float(s.min() - d.max()), 4)}


def pair_scores(vectors: dict[str, np.ndarray], score) -> tuple[list[float], list[float]]:
    same, diff = [], []
    for a, b in itertools.combinations(sorted(vectors), 2):
        (same if PERSON[a] == PERSON[b] else diff).append(score(vectors[a], vectors[b]))
    return same, diff


def main() -> None:
    images = load_images()
    t = time.perf_counter()
    pipeline = FacePipeline(video=True)
    load_s = time.perf_counter() - t
    frame = camera_frame(images["obama.jpg"])
    finder = pipeline.finder
    faces = finder.landmarks(frame)
    from terminal.camera.alignment import align
    from terminal.camera.quality import assess

    crop = align(frame, faces[0])
    stages = {
        "detection": median_ms(lambda: finder.detect(frame)),
        "landmarks": median_ms(lambda: finder.landmarks(frame)),
        "quality": median_ms(lambda: assess(frame, faces)),
        "alignment": median_ms(lambda: align(frame, faces[0])),
        "embedding": median_ms(lambda: pipeline.embedder.embed(crop)),
    }
    rng = np.random.default_rng(0)
    probe = pipeline.embed(frame, faces[0])
    search_ms, galleries = {}, {}
    for n in (1_000, 10_000, 100_000):
        m = rng.normal(size=(n, 128)).astype(np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        m[n // 2] = probe
        ids = [f"g{i}" for i in range(n)]
        galleries[n] = (m, ids)
        search_ms[str(n)] = median_ms(lambda m=m, ids=ids: search(m, ids, probe), 50)
    policy = DecisionPolicy(threshold=0.5, calibrated=True, fmr=1e-7)
    m, ids = galleries[100_000]

    def face_to_decision() -> None:
        obs = pipeline.observe(frame)
        vec = pipeline.embed(frame, obs.faces[0])
        decide(search(m, ids, vec), policy)

    decision_ms = median_ms(face_to_decision)

    # SFace (ours) vs dlib (face_recognition's models) on the same images
    still = FacePipeline(video=False)
    ours, ours_ms = {}, []
    for name, img in images.items():
        t = time.perf_counter()
        obs = still.observe(img)
        if len(obs.faces) == 1:
            ours[name] = still.embed(img, obs.faces[0])
        ours_ms.append((time.perf_counter() - t) * 1000)
    comparison: dict[str, object] = {"images": len(images), "sface_faces": len(ours)}
    try:
        import dlib

        models = resources.files("face_recognition_models") / "models"
        detector = dlib.get_frontal_face_detector()
        shape = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
        resnet = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        theirs, dlib_ms = {}, []
        for name, img in images.items():
            rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            t = time.perf_counter()
            boxes = detector(rgb, 1)
            if len(boxes) == 1:
                theirs[name] = np.array(resnet.compute_face_descriptor(rgb, shape(rgb, boxes[0]), 1))
            dlib_ms.append((time.perf_counter() - t) * 1000)
        s_ours = separation(*pair_scores(ours, lambda a, b: float(a @ b)))
        s_dlib = separation(*pair_scores(theirs, lambda a, b: -float(np.linalg.norm(a - b))))
        comparison |= {
            "dlib_faces": len(theirs),
            "sface": {"ms_per_image": round(statistics.median(ours_ms), 2)} | s_ours,
            "dlib": {"ms_per_image": round(statistics.median(dlib_ms), 2)} | s_dlib,
            "ratios_sface_over_dlib": {
                "time": round(statistics.median(ours_ms) / statistics.median(dlib_ms), 3),
                "d_prime": round(s_ours["d_prime"] / s_dlib["d_prime"], 3),
            },
            "note": "d_prime on 6 photos of 2 people (10 same, 5 different pairs): speed is solid, accuracy is a hint",
        }
    except ImportError as exc:
        comparison["dlib"] = f"not installed ({exc}); pip install -e '.[dev]'"
    print(json.dumps({
        "model_load_s": round(load_s, 3),
        "frame": "640x480",
        "stage_ms": stages,
        "search_ms": search_ms,
        "face_to_decision_ms_gallery_100000": decision_ms,
        "targets": {"search_100000_ms": 20, "face_to_decision_ms": 150},
        "comparison": comparison,
    }, indent=2))


if __name__ == "__main__":
    main()
