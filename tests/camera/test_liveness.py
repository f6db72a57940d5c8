import pytest

from terminal.camera.landmarks import FaceFinder
from terminal.camera.liveness import Challenge, LivenessCheck, Status

from .synth import blink_sequence, moved_photo, still_photo, turn_sequence


@pytest.fixture(scope="module")
def video_finder():
    finder = FaceFinder(video=True)
    yield finder
    finder.close()


def run(check: LivenessCheck, finder: FaceFinder, frames) -> Status:
    for frame in frames:
        state = check.feed(finder.landmarks(frame.image), frame.timestamp)
        assert state.status is not Status.PASSED, check.peak
    return state.status


@pytest.mark.parametrize("challenge", list(Challenge))
def test_still_photo_fails(challenge, video_finder, image):
    frames = still_photo(image("obama.jpg"), n=20)
    assert run(LivenessCheck(challenge), video_finder, frames) is Status.PENDING


@pytest.mark.parametrize("challenge", list(Challenge))
@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg"])
def test_moved_photo_fails(challenge, name, video_finder, image):
    check = LivenessCheck(challenge)
    run(check, video_finder, moved_photo(image(name), n=40))
    # and the margins are real, not luck
    if challenge is Challenge.BLINK:
        assert check.peak["min_eye_ratio"] > check.rules.closed_ratio + 0.1
    else:
        assert check.peak["max_parallax"] < check.rules.min_parallax or \
            check.peak["max_yaw_change"] < check.rules.turn_yaw


def test_times_out(video_finder, image):
    frames = still_photo(image("obama.jpg"), n=3)
    check = LivenessCheck(Challenge.BLINK)
    for f in frames:
        check.feed(video_finder.landmarks(f.image), f.timestamp)
    assert check.feed(video_finder.landmarks(frames[0].image), 100.0).status is Status.FAILED


@pytest.fixture(scope="module")
def live_landmarks(still_pipeline, image):
    return still_pipeline.observe(image("obama.jpg")).faces[0]


def test_live_blink_passes(live_landmarks):
    check = LivenessCheck(Challenge.BLINK)
    states = [check.feed([lm], i / 15) for i, lm in enumerate(blink_sequence(live_landmarks))]
    assert states[-1].status is Status.PASSED


@pytest.mark.parametrize(("challenge", "degrees"), [(Challenge.TURN_LEFT, 30), (Challenge.TURN_RIGHT, -30)])
def test_live_head_turn_passes_only_in_asked_direction(live_landmarks, challenge, degrees):
    check = LivenessCheck(challenge)
    states = [check.feed([lm], i / 15) for i, lm in enumerate(turn_sequence(live_landmarks, degrees))]
    assert states[-1].status is Status.PASSED, check.peak
    wrong = LivenessCheck(challenge)
    states = [wrong.feed([lm], i / 15) for i, lm in enumerate(turn_sequence(live_landmarks, -degrees))]
    assert states[-1].status is Status.PENDING


def test_second_face_restarts_challenge(live_landmarks):
    check = LivenessCheck(Challenge.BLINK)
    seq = blink_sequence(live_landmarks)
    for i, lm in enumerate(seq[:10]):
        check.feed([lm], i / 15)
    assert check.feed([seq[10], seq[10]], 11 / 15).status is Status.PENDING
    for i, lm in enumerate(seq[11:], 12):
        state = check.feed([lm], i / 15)
    assert state.status is Status.PENDING  # the blink began before the restart: it does not count
