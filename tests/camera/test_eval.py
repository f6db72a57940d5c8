import json

import numpy as np
import pytest

from terminal.camera.evaluation import PairsFileError, read_pairs, summarize
from terminal.cli import main

PAIRS = """image_a,image_b,same
obama.jpg,obama3.jpg,1
obama_partial_face.jpg,obama.jpg,1
obama.jpg,biden.jpg,0
obama3.jpg,biden.jpg,0
"""


def test_eval_command_prints_the_figures(tmp_path, photos, capsys):
    (tmp_path / "pairs.csv").write_text(PAIRS)
    assert main(["face", "eval", "--pairs", str(tmp_path / "pairs.csv"), "--images", str(photos), "--json",
                 "--fmr", "0.001"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pairs"] == 4 and out["detection_failures"]["pairs"] == 0
    assert len(out["same_scores"]) == 2 and len(out["different_scores"]) == 2
    assert min(out["same_scores"]) > max(out["different_scores"]) and out["eer"] == 0.0
    assert out["tar_at_far"] == {"0.01": None, "0.001": None}  # 2 different pairs cannot measure these
    assert out["threshold"]["fmr"] == 0.001 and out["threshold"]["supported"] is False


def test_eval_bad_input_is_one_line(tmp_path, photos, capsys):
    (tmp_path / "p.csv").write_text("a.jpg,b.jpg,maybe\n")
    assert main(["face", "eval", "--pairs", str(tmp_path / "p.csv"), "--images", str(photos)]) == 2
    assert "same = 0 or 1" in capsys.readouterr().err
    (tmp_path / "p.csv").write_text("missing.jpg,obama.jpg,1\n")
    assert main(["face", "eval", "--pairs", str(tmp_path / "p.csv"), "--images", str(photos)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_summary_statistics():
    rng = np.random.default_rng(0)
    same, diff = rng.normal(0.7, 0.1, 500), rng.normal(0.1, 0.1, 2000)
    out = summarize(same, diff, fmr=1e-3)
    assert 0 <= out["eer"] < 0.01
    assert out["tar_at_far"]["0.01"] is not None and out["tar_at_far"]["0.001"] is not None
    assert (diff >= out["threshold"]["value"]).mean() <= 1e-3 and out["threshold"]["supported"]
    with pytest.raises(PairsFileError):
        read_pairs(__import__("pathlib").Path("/nonexistent/pairs.csv"))
