import cv2
import pytest

from terminal.camera.quality import Guidance

SAME = [("obama.jpg", "obama2.jpg"), ("obama.jpg", "obama3.jpg"), ("obama_partial_face.jpg", "obama2.jpg")]
DIFFERENT = [("obama.jpg", "biden.jpg"), ("obama2.jpg", "biden.jpg"), ("obama3.jpg", "biden.jpg")]


@pytest.fixture(scope="module")
def embed(still_pipeline, image):
    def run(name: str):
        img = image(name)
        obs = still_pipeline.observe(img)
        assert len(obs.faces) == 1, f"{name}: {len(obs.faces)} faces"
        return still_pipeline.embed(img, obs.faces[0])

    return run


def test_detects_one_face_with_landmarks(still_pipeline, image):
    obs = still_pipeline.observe(image("obama.jpg"))
    assert obs.detections == 1 and obs.faces[0].shape == (478, 3)
    assert obs.quality.ok and obs.quality.metrics["eye_distance"] > 40


def test_same_person_scores_above_different(embed):
    same = [float(embed(a) @ embed(b)) for a, b in SAME]
    diff = [float(embed(a) @ embed(b)) for a, b in DIFFERENT]
    assert min(same) > 0.5 > max(diff), (same, diff)


def test_no_face_and_quality_guidance(still_pipeline, image):
    blank = image("obama.jpg") * 0 + 128
    assert still_pipeline.observe(blank).quality.guidance is Guidance.NO_FACE
    small = cv2.resize(image("obama.jpg"), None, fx=0.12, fy=0.12)
    assert still_pipeline.observe(small).quality.guidance is Guidance.COME_CLOSER
    blurred = cv2.GaussianBlur(image("obama.jpg"), (0, 0), 6)
    assert still_pipeline.observe(blurred).quality.guidance is Guidance.BLURRY
    dark = (image("obama.jpg") * 0.2).astype("uint8")
    assert still_pipeline.observe(dark).quality.guidance is Guidance.TOO_DARK
