"""Evaluation of the face pipeline on labelled pairs: EER, TAR at fixed FAR, the threshold for a stated FMR.

Pure statistics over score lists (`summarize`) plus the loop that embeds the
images of a pairs file (`evaluate_pairs`). Used by `stallpay face eval` and
bench/face.py. TAR at a FAR is reported only when the set has enough
different-person pairs to observe that FAR at all (n x FAR >= 1).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from terminal.camera.decision import threshold_for_fmr


class PairsFileError(Exception):
    """The pairs file is malformed; the message names the line."""


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool


def read_pairs(path: Path) -> list[Pair]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PairsFileError(f"{path}: cannot read: {exc.strerror}") from None
    pairs = []
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or row[0].startswith("#") or (n == 1 and row[-1].strip().lower() == "same"):
            continue
        if len(row) != 3 or row[2].strip() not in ("0", "1"):
            raise PairsFileError(f"{path}:{n}: expected image_a,image_b,same (same = 0 or 1), got {row!r}")
        pairs.append(Pair(row[0].strip(), row[1].strip(), row[2].strip() == "1"))
    if not pairs:
        raise PairsFileError(f"{path}: no pairs")
    return pairs


def eer(same: np.ndarray, diff: np.ndarray) -> tuple[float, float]:
    """(equal error rate, threshold where it occurs)."""
    thresholds = np.unique(np.concatenate([same, diff]))
    best = (1.0, float(thresholds[0]))
    gap = 2.0
    for t in thresholds:
        far = float((diff >= t).mean())
        frr = float((same < t).mean())
        if abs(far - frr) < gap:
            gap, best = abs(far - frr), ((far + frr) / 2, float(t))
    return best


def summarize(same: Sequence[float], diff: Sequence[float], fmr: float) -> dict[str, object]:
    s, d = np.asarray(same, np.float64), np.asarray(diff, np.float64)
    out: dict[str, object] = {"same_scores": [round(x, 4) for x in s.tolist()],
                              "different_scores": [round(x, 4) for x in d.tolist()]}
    if s.size and d.size:
        rate, at = eer(s, d)
        out["eer"] = round(rate, 4)
        out["eer_threshold"] = round(at, 4)
    else:
        out["eer"] = None
    tar: dict[str, float | None] = {}
    for far in (1e-2, 1e-3):
        if d.size * far >= 1 and s.size:
            tar[f"{far:g}"] = round(float((s >= threshold_for_fmr(d, far).threshold).mean()), 4)
        else:
            tar[f"{far:g}"] = None  # the set has too few different-person pairs to measure this FAR
    out["tar_at_far"] = tar
    if d.size:
        cal = threshold_for_fmr(d, fmr)
        out["threshold"] = {"fmr": fmr, "value": round(cal.threshold, 4), "different_pairs": cal.impostor_pairs,
                            "supported": cal.supported}
    else:
        out["threshold"] = None
    return out


def evaluate_pairs(pairs: Sequence[Pair], images: Path, embed: Callable[[Path], np.ndarray | None],
                   fmr: float) -> dict[str, object]:
    """`embed(path)` returns a normalised template, or None when no usable face was found."""
    cache: dict[str, np.ndarray | None] = {}
    failures: set[str] = set()
    same, diff = [], []
    failed_pairs = 0
    for pair in pairs:
        vectors = []
        for name in (pair.a, pair.b):
            if name not in cache:
                path = images / name
                if not path.is_file():
                    raise PairsFileError(f"{path}: image listed in the pairs file does not exist")
                cache[name] = embed(path)
                if cache[name] is None:
                    failures.add(name)
            vectors.append(cache[name])
        if vectors[0] is None or vectors[1] is None:
            failed_pairs += 1
            continue
        (same if pair.same else diff).append(float(vectors[0] @ vectors[1]))
    return {"pairs": len(pairs), "detection_failures": {"images": sorted(failures), "pairs": failed_pairs}} | \
        summarize(same, diff, fmr)
