"""Sample face photos for the demo, the tests and the benchmark, from a package on PyPI.

The `face_recognition` 1.3.0 source distribution carries photos of two people
(tests/test_images: four of one, one of the other). They are fetched once with
`pip download` (PyPI is the only network a build machine needs) into a cache
directory and extracted; nothing is fetched from the web at test time beyond
that registry download, and never at run time on a terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

SDIST = "face_recognition==1.3.0"
MEMBER_DIR = "face_recognition-1.3.0/tests/test_images/"
PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg", "biden.jpg")
PERSON = {name: ("biden" if name.startswith("biden") else "obama") for name in PHOTOS}


def default_cache() -> Path:
    return Path(os.environ.get("STALLPAY_FACE_SAMPLES", Path.home() / ".cache" / "stallpay" / "face-samples"))


def sample_photos(cache: Path | None = None) -> Path:
    """Directory holding PHOTOS; downloads the sdist with pip on first use."""
    cache = cache or default_cache()
    if all((cache / name).is_file() for name in PHOTOS):
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    archive = next(cache.glob("face_recognition-1.3.0.tar.gz"), None)
    if archive is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", SDIST,
                        "-d", str(cache)], check=True, capture_output=True)
        archive = cache / "face_recognition-1.3.0.tar.gz"
    with tarfile.open(archive) as tar:
        for name in PHOTOS:
            member = tar.getmember(MEMBER_DIR + name)
            data = tar.extractfile(member)
            if data is not None:
                (cache / name).write_bytes(data.read())
    return cache
