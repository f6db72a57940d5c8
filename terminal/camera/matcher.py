"""1:N search of one probe template against the whole gallery matrix.

Templates are L2-normalised float32 rows, so cosine similarity is one
matrix-vector product; the top two identities come from `argpartition`
(linear, no full sort). 100,000 x 128 is ~51 MB and takes a few milliseconds
on one core, which is why the gallery is held in memory as a single matrix.
Each account has exactly one template (the mean of its enrollment frames), so
the second-best row is the second-best identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Candidate:
    account_id: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    """Best candidates, best first; `second_score` is -1.0 when the gallery has one identity."""

    candidates: tuple[Candidate, ...]
    gallery_size: int

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def second_score(self) -> float:
        return self.candidates[1].score if len(self.candidates) > 1 else -1.0


def normalize(vector: np.ndarray) -> np.ndarray:
    """L2-normalise a template (float32); a zero vector is a bug upstream and raises."""
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("template is zero or not finite")
    return vector / norm


def search(matrix: np.ndarray, ids: Sequence[str], probe: np.ndarray, top: int = 5) -> SearchResult:
    """Top `top` identities by cosine similarity. `matrix` rows must be normalised; `probe` is normalised here."""
    n = matrix.shape[0]
    if n == 0:
        return SearchResult((), 0)
    if matrix.shape[1] != probe.size:
        raise ValueError(f"probe has {probe.size} values, gallery templates have {matrix.shape[1]}")
    scores = matrix @ normalize(probe)
    k = min(top, n)
    idx = np.argpartition(scores, n - k)[n - k :] if k < n else np.arange(n)
    idx = idx[np.argsort(scores[idx])[::-1]]
    return SearchResult(tuple(Candidate(ids[i], float(scores[i])) for i in idx), n)
